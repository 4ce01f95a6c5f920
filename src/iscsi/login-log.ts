/**
 * The last login attempts per initiator name, for the admin API (GET /v1/logins): when, from where,
 * to which target, and for a failure the reason (a LOGIN_FAILURE_REASONS label, or any reason a
 * newer check adds) and the detail the log line has. Memory is bounded against a flood of invented
 * names: `perInitiator` attempts per name, `maxInitiators` names, the longest quiet name forgotten
 * first; names are cut to 200 characters.
 */
import { boundForLog } from './login-failure.js';

export interface LoginAttempt {
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** As sent; undefined when the login failed before naming one. */
  readonly initiatorName: string | undefined;
  readonly sourceAddress: string;
  readonly sourcePort: number;
  /** The TargetName asked for (undefined for discovery, or before it was read). */
  readonly target: string | undefined;
  readonly sessionType: 'Normal' | 'Discovery' | undefined;
  readonly outcome: 'success' | 'failure';
  /** Failures only: the stable reason label (metric scatter_iscsi_login_failures_total{reason}). */
  readonly reason?: string;
  /** Failures only: what exactly was wrong, for people. */
  readonly detail?: string;
  /** Successes only: the session's TSIH. */
  readonly tsih?: number;
}

export interface LoginLogOptions {
  readonly perInitiator?: number;
  readonly maxInitiators?: number;
}

/** Key for attempts that never named an initiator. */
const UNNAMED = '';

export class LoginLog {
  readonly perInitiator: number;
  readonly maxInitiators: number;
  private readonly byInitiator = new Map<string, LoginAttempt[]>();

  constructor(opts: LoginLogOptions = {}) {
    this.perInitiator = opts.perInitiator ?? 5;
    this.maxInitiators = opts.maxInitiators ?? 1000;
  }

  record(attempt: LoginAttempt): void {
    const name = attempt.initiatorName === undefined ? undefined : boundForLog(attempt.initiatorName);
    const entry: LoginAttempt = {
      ...attempt,
      initiatorName: name,
      ...(attempt.detail === undefined ? {} : { detail: boundForLog(attempt.detail, 300) }),
    };
    const key = name?.toLowerCase() ?? UNNAMED;
    const list = this.byInitiator.get(key) ?? [];
    list.push(entry);
    if (list.length > this.perInitiator) list.splice(0, list.length - this.perInitiator);
    // Re-insert so the Map iterates from the longest quiet name to the latest.
    this.byInitiator.delete(key);
    this.byInitiator.set(key, list);
    if (this.byInitiator.size > this.maxInitiators) {
      const oldest = this.byInitiator.keys().next().value;
      if (oldest !== undefined) this.byInitiator.delete(oldest);
    }
  }

  /** Every attempt kept, newest first. */
  all(): LoginAttempt[] {
    const out: LoginAttempt[] = [];
    for (const list of this.byInitiator.values()) out.push(...list);
    return out.sort((a, b) => b.at - a.at);
  }

  get initiatorCount(): number {
    return this.byInitiator.size;
  }
}
