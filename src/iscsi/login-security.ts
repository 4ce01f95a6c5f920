/**
 * The security stage of one login (RFC 7143 §6.3.1, §12): AuthMethod, then CHAP when the
 * target requires it, with the brute-force throttle deciding whether an answer is checked.
 */
import type { AuthThrottle } from './auth-throttle.js';
import { ChapTargetSession, type ChallengeCache } from './chap.js';
import { LoginFailure, boundForLog, chapFailureReason } from './login-failure.js';
import type { LoginIdentity } from './login-identity.js';
import { LoginStatus } from './opcodes.js';

export interface SecurityContext {
  readonly challengeCache: ChallengeCache;
  readonly authThrottle: AuthThrottle;
}

export class SecurityNegotiation {
  private chosen: 'None' | 'CHAP' | undefined;
  private done = false;
  private chap: ChapTargetSession | undefined;

  constructor(
    private readonly identity: LoginIdentity,
    private readonly ctx: SecurityContext,
    /** Source address of the connection (the throttle's second key). */
    private readonly remoteAddress: string,
  ) {}

  /** The method agreed on, for the log. */
  get method(): 'None' | 'CHAP' | undefined {
    return this.chosen;
  }

  /** Authentication the target requires (if any) has succeeded. */
  get authenticated(): boolean {
    return this.identity.authRequired === undefined || this.done;
  }

  /** The stage may end: the target requires nothing and CHAP was not started, or authentication succeeded. */
  get complete(): boolean {
    if (!this.identity.authRequired) return this.chosen !== 'CHAP' || this.done;
    return this.done;
  }

  /** Answer the security keys of one complete request; `transit` is its T bit. Throws LoginFailure. */
  step(keys: ReadonlyMap<string, string>, transit: boolean): [string, string][] {
    const reply: [string, string][] = [];
    const offered = keys.get('AuthMethod');
    if (offered !== undefined && this.chosen === undefined) {
      reply.push(['AuthMethod', this.choose(offered)]);
    } else if (offered === undefined && this.chosen === undefined) {
      if (this.identity.authRequired && transit) {
        // Asking to leave the security stage without ever offering a method: nothing to negotiate.
        throw new LoginFailure(LoginStatus.AUTH_FAILURE, 'auth_required', 'CHAP is required, the initiator offered no AuthMethod');
      }
      if (!this.identity.authRequired) {
        this.chosen = 'None';
        this.done = true;
      }
    }
    const chapKeys = new Map([...keys].filter(([k]) => k.startsWith('CHAP_')));
    if (chapKeys.size > 0) reply.push(...this.chapStep(chapKeys));
    return reply;
  }

  private choose(offered: string): 'None' | 'CHAP' {
    const methods = offered.split(',');
    const required = this.identity.authRequired;
    if (required) {
      if (!methods.includes('CHAP')) {
        throw new LoginFailure(
          LoginStatus.AUTH_FAILURE,
          'auth_required',
          `CHAP is required, the initiator offered AuthMethod=${boundForLog(offered)}`,
        );
      }
      this.chosen = 'CHAP';
      this.chap = new ChapTargetSession(required, { replayCache: this.ctx.challengeCache });
      return this.chosen;
    }
    if (!methods.includes('None')) {
      throw new LoginFailure(
        LoginStatus.AUTH_FAILURE,
        'auth_method_rejected',
        `no authentication is configured, the initiator offered only AuthMethod=${boundForLog(offered)}`,
      );
    }
    this.chosen = 'None';
    this.done = true;
    return this.chosen;
  }

  private chapStep(chapKeys: Map<string, string>): [string, string][] {
    if (!this.chap || this.done) {
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'chap_protocol_error', 'CHAP keys outside a CHAP negotiation');
    }
    const name = this.identity.initiatorName;
    // After the challenge went out, this request is an answer: a failure is a guess that counts.
    const answering = this.chap.chosenAlgorithm !== undefined;
    const r = this.chap.step(chapKeys);
    const gate = answering ? this.ctx.authThrottle.gate(name, this.remoteAddress) : 'open';
    if (gate !== 'open') {
      // Checked after the same work as any answer, and refused the same way, right secret or not.
      const verdict = r.state === 'success' ? 'the answer was right' : (r.reason ?? 'failed');
      const why = gate === 'locked-out' ? 'locked out after repeated failures' : 'answered before the delay of the last failure ran out';
      throw new LoginFailure(
        LoginStatus.AUTH_FAILURE,
        gate === 'locked-out' ? 'chap_locked_out' : 'chap_too_soon',
        `CHAP: ${why} (${verdict})`,
        true,
      );
    }
    if (r.state === 'failure') {
      throw new LoginFailure(LoginStatus.AUTH_FAILURE, chapFailureReason(r.code), `CHAP: ${r.reason ?? 'failed'}`, answering);
    }
    if (r.state === 'success') {
      this.done = true;
      this.ctx.authThrottle.recordSuccess(name, this.remoteAddress);
    }
    return r.reply;
  }
}
