/**
 * Who is logging in to what (RFC 7143 §6.1, §13.4-13.6): read from the first
 * complete login text, whether it came in one PDU or several (C bit). Nothing
 * else in a login happens before this succeeds.
 */
import { iscsiNameProblem } from '../config/iscsi-name.js';
import type { ChapTargetConfig } from './chap.js';
import { LoginFailure, boundForLog } from './login-failure.js';
import { OperationalNegotiator } from './negotiation.js';
import { LoginStatus } from './opcodes.js';
import type { TargetNegotiationConfig } from './session-params.js';
import type { IscsiTarget, TargetRegistry } from './target.js';
import { OPEN_ACCESS, chapFor, permits } from './target-access.js';

export type SessionType = 'Normal' | 'Discovery';

export const STAGE_SECURITY = 0;

export interface LoginIdentity {
  readonly initiatorName: string;
  readonly initiatorAlias?: string;
  readonly sessionType: SessionType;
  /** Set for Normal sessions. */
  readonly target?: IscsiTarget;
  /** CHAP the target (or discovery) requires; undefined when it requires no authentication. */
  readonly authRequired?: ChapTargetConfig;
  readonly negotiator: OperationalNegotiator;
}

export interface IdentityContext {
  readonly targets: TargetRegistry;
  readonly negotiation: TargetNegotiationConfig;
  readonly discoveryChap?: ChapTargetConfig;
}

/** Identify the login from its first complete text; `stage` is the CSG it started in. Throws LoginFailure. */
export function identifyLogin(keys: ReadonlyMap<string, string>, stage: number, ctx: IdentityContext): LoginIdentity {
  const name = keys.get('InitiatorName');
  if (name === undefined || name === '') {
    throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'missing_parameter', 'InitiatorName missing from the first login request');
  }
  // RFC 7143 §13.6: the InitiatorName key carries an iSCSI name in the format of §4.2.7; one that is not
  // is a request the initiator got wrong, i.e. "Initiator error" (§11.13.5, 0200). Names compare
  // case-folded (RFC 3722), so case alone is no error.
  const problem = iscsiNameProblem(name.toLowerCase());
  if (problem !== null) {
    throw new LoginFailure(
      LoginStatus.INITIATOR_ERROR,
      'invalid_initiator_name',
      `InitiatorName ${JSON.stringify(boundForLog(name))} is not a valid iSCSI name: ${problem}`,
    );
  }
  const type = keys.get('SessionType') ?? 'Normal';
  if (type !== 'Normal' && type !== 'Discovery') {
    throw new LoginFailure(
      LoginStatus.SESSION_TYPE_NOT_SUPPORTED,
      'session_type_not_supported',
      `SessionType ${JSON.stringify(boundForLog(type))}`,
    );
  }
  let target: IscsiTarget | undefined;
  let authRequired: ChapTargetConfig | undefined;
  if (type === 'Normal') {
    const targetName = keys.get('TargetName');
    if (targetName === undefined || targetName === '') {
      throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'missing_parameter', 'TargetName missing for a Normal session');
    }
    target = ctx.targets.get(targetName);
    if (!target) {
      throw new LoginFailure(LoginStatus.TARGET_NOT_FOUND, 'target_not_found', `no target ${JSON.stringify(boundForLog(targetName))}`);
    }
    // Checked before any authentication, as the target's own answer (RFC 7143 §11.13.5: 0202, the
    // initiator is not allowed access to the target).
    const access = target.access ?? OPEN_ACCESS;
    if (!permits(access, name)) {
      throw new LoginFailure(
        LoginStatus.AUTHORIZATION_FAILURE,
        'not_in_acl',
        `initiator ${JSON.stringify(boundForLog(name))} is not in the ACL of ${target.iqn}`,
      );
    }
    authRequired = chapFor(access, name, target.chap);
  } else {
    authRequired = ctx.discoveryChap;
  }
  if (stage !== STAGE_SECURITY && authRequired) {
    throw new LoginFailure(LoginStatus.AUTH_FAILURE, 'auth_required', 'login skipped security negotiation but CHAP is required');
  }
  return {
    initiatorName: name,
    initiatorAlias: keys.get('InitiatorAlias'),
    sessionType: type,
    target,
    authRequired,
    negotiator: new OperationalNegotiator(type, ctx.negotiation),
  };
}

/** Keys that name the login: a later request may repeat them, never change them. */
const FIXED_KEYS = ['InitiatorName', 'TargetName', 'SessionType'] as const;

/** Refuse a later request that names another initiator, target or session type (Initiator error). */
export function checkIdentityUnchanged(identity: LoginIdentity, keys: ReadonlyMap<string, string>): void {
  const current: Record<(typeof FIXED_KEYS)[number], string | undefined> = {
    InitiatorName: identity.initiatorName,
    TargetName: identity.target?.iqn,
    SessionType: identity.sessionType,
  };
  for (const key of FIXED_KEYS) {
    const value = keys.get(key);
    // A discovery session has no target: a TargetName there was never looked at.
    if (value === undefined || (key === 'TargetName' && identity.sessionType === 'Discovery')) continue;
    const was = current[key];
    const same = was !== undefined && (key === 'SessionType' ? value === was : value.toLowerCase() === was.toLowerCase());
    if (!same) {
      throw new LoginFailure(
        LoginStatus.INITIATOR_ERROR,
        'initiator_error',
        `${key} changed during login to ${JSON.stringify(boundForLog(value))}`,
      );
    }
  }
}
