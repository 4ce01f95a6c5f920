import type { ChapFailureCode } from './chap.js';
import type { LoginStatusCode } from './opcodes.js';
import { ScatterError } from '../shared/errors.js';

/**
 * Why a login failed, as a bounded label set (metric `scatter_iscsi_login_failures_total{reason}`).
 * The initiator only ever sees the status class and detail; the log and metric say why.
 */
export const LOGIN_FAILURE_REASONS = [
  'chap_wrong_secret',
  'chap_unknown_user',
  'chap_locked_out',
  'chap_too_soon', // answered while the delay of an earlier failure still ran (a client that does not wait)
  'chap_no_common_algorithm',
  'chap_mutual_mismatch',
  'chap_bad_challenge',
  'chap_protocol_error',
  'auth_required', // the target requires CHAP, the initiator did not offer or skipped it
  'auth_method_rejected', // no AuthMethod both sides accept
  'target_not_found',
  'not_in_acl', // the target admits initiators by ACL and this one is not listed (0202)
  'invalid_initiator_name',
  'missing_parameter',
  'unsupported_version',
  'session_type_not_supported',
  'session_does_not_exist',
  'non_login_pdu',
  'negotiation_error',
  'initiator_error',
  'out_of_resources',
  'timeout',
] as const;

export type LoginFailureReason = (typeof LOGIN_FAILURE_REASONS)[number];

export class LoginFailure extends ScatterError<'LOGIN_FAILED'> {
  constructor(
    readonly status: LoginStatusCode,
    readonly reason: LoginFailureReason,
    message: string,
    /** A failed answer to a CHAP challenge: counts against the brute-force throttle. */
    readonly authAttempt = false,
  ) {
    super('LOGIN_FAILED', message);
  }
}

/** CHAP's own failure codes folded into the metric's label set. */
export function chapFailureReason(code: ChapFailureCode | undefined): LoginFailureReason {
  switch (code) {
    case 'bad-response':
      return 'chap_wrong_secret';
    case 'wrong-user':
      return 'chap_unknown_user';
    case 'unsupported-algorithm':
      return 'chap_no_common_algorithm';
    case 'mutual-required':
    case 'mutual-not-configured':
      return 'chap_mutual_mismatch';
    case 'challenge-length':
    case 'reflected-challenge':
    case 'replayed-challenge':
      return 'chap_bad_challenge';
    case 'protocol':
    case 'malformed':
    case undefined:
      return 'chap_protocol_error';
  }
}

/** Plain counters the metrics read at scrape time (the login path never sees prom-client). */
export class LoginFailureCounts {
  private readonly counts = new Map<LoginFailureReason, number>(LOGIN_FAILURE_REASONS.map((r) => [r, 0]));

  add(reason: LoginFailureReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  get(reason: LoginFailureReason): number {
    return this.counts.get(reason) ?? 0;
  }

  entries(): IterableIterator<[LoginFailureReason, number]> {
    return this.counts.entries();
  }
}

/** Peer-supplied text for a log line: at most `max` characters, so a hostile peer cannot flood the log. */
export function boundForLog(value: string, max = 200): string {
  return value.length > max ? `${value.slice(0, max)}… (${value.length} chars)` : value;
}
