import type { LoginLog } from './login-log.js';
import type { AuthThrottle } from './auth-throttle.js';
import type { ChallengeCache, ChapTargetConfig } from './chap.js';
import type { PduHandler } from './connection-link.js';
import type { LoginFailureCounts } from './login-failure.js';
import type { SessionType } from './login-identity.js';
import type { LoginStatusCode } from './opcodes.js';
import type { SessionParams, TargetNegotiationConfig } from './session-params.js';
import type { IscsiTarget, TargetRegistry } from './target.js';

/** What a successful login established: who, which target, what was negotiated. */
export interface LoginOutcome {
  readonly initiatorName: string;
  readonly initiatorAlias?: string;
  readonly isid: Buffer;
  /** TSIH the initiator sent: 0 for a new session (or a reinstatement). */
  readonly requestedTsih: number;
  readonly cid: number;
  readonly sessionType: SessionType;
  readonly target?: IscsiTarget;
  readonly params: SessionParams;
  /** CmdSN of the login request: the session's first ExpCmdSN. */
  readonly cmdSN: number;
}

/** What the session layer gives back when a login completes. */
export interface SessionAttachment {
  readonly tsih: number;
  readonly expCmdSN: number;
  readonly maxCmdSN: number;
  readonly handler: PduHandler;
}

export interface LoginTimers {
  setTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout>;
  clearTimeout(t: ReturnType<typeof setTimeout>): void;
}

/** What the login phase of a connection needs from the server. */
export interface LoginContext {
  readonly targets: TargetRegistry;
  readonly negotiation: TargetNegotiationConfig;
  readonly discoveryChap?: ChapTargetConfig;
  readonly challengeCache: ChallengeCache;
  readonly loginTimeoutMs: number;
  /** Failed CHAP answers per initiator name and source address: delays and lockouts. */
  readonly authThrottle: AuthThrottle;
  /** Failed logins by reason, for the metrics. */
  readonly failures: LoginFailureCounts;
  /** The last attempts per initiator (admin API); absent = not kept. */
  readonly loginLog?: LoginLog;
  /** Timer functions; tests inject fake ones. */
  readonly timers?: LoginTimers;
  /** Create (or reinstate) the session for this connection; a status code refuses the login. */
  attach(outcome: LoginOutcome): SessionAttachment | LoginStatusCode;
}

export const realLoginTimers: LoginTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t),
};
