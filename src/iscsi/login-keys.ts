import { LoginFailure } from './login-failure.js';
import { LoginStatus } from './opcodes.js';
import type { TextPair } from './text.js';

/** Keys the login state machine handles itself; everything else goes to operational negotiation. */
const IDENTITY_KEYS = new Set(['InitiatorName', 'InitiatorAlias', 'TargetName', 'SessionType', 'AuthMethod']);
/** Keys only a target may send (RFC 7143 §13): an initiator that sends one is in error. */
const TARGET_ONLY_KEYS = new Set(['TargetAlias', 'TargetAddress', 'TargetPortalGroupTag']);

/** The keys of a login text that operational negotiation answers (not identity, AuthMethod or CHAP_*). */
export function operationalKeys(pairs: readonly TextPair[]): TextPair[] {
  const operational: TextPair[] = [];
  for (const [k, v] of pairs) {
    if (IDENTITY_KEYS.has(k) || k.startsWith('CHAP_')) continue;
    if (TARGET_ONLY_KEYS.has(k)) {
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'initiator_error', `initiator sent target key ${k}`);
    }
    operational.push([k, v]);
  }
  return operational;
}
