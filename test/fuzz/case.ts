/** One fuzz case's identity, its trace, and the failures found in it. */
import { Trace } from './trace.js';

/**
 * What an assertion found. Every kind is one of the promises in docs/fuzzing.md:
 * crash (a), double-status / stray-status (b), malformed / segment-length (c), bystander (d),
 * rss (e), hang (f); rfc and auth are the RFC 7143 answers the generators know for sure;
 * error-log is an internal error the target logged; login is a well-formed login refused.
 */
export type FailureKind =
  | 'crash'
  | 'double-status'
  | 'stray-status'
  | 'malformed'
  | 'segment-length'
  | 'bystander'
  | 'rss'
  | 'hang'
  | 'rfc'
  | 'auth'
  | 'error-log'
  | 'login';

export interface Failure {
  kind: FailureKind;
  message: string;
}

export class CaseContext {
  readonly trace: Trace;
  readonly failures: Failure[] = [];
  private readonly seen = new Set<string>();

  constructor(
    readonly seed: number,
    readonly index: number,
    readonly generator: string,
  ) {
    this.trace = new Trace(`seed ${seed} case ${index} (${generator})`);
  }

  /** The other cases running at the moment (set by the harness), for hangs another case may cause. */
  concurrent: () => string[] = () => [];

  /** "(while case 7 (resource-write-hold) ran) " or nothing. */
  meanwhile(): string {
    const others = this.concurrent().filter((c) => !c.startsWith(`case ${this.index} `));
    return others.length > 0 ? `(while ${others.join(', ')} ran) ` : '';
  }

  fail(kind: FailureKind, message: string): void {
    const key = `${kind}|${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.failures.push({ kind, message });
    this.trace.add(`!! ${kind}: ${message}`);
  }
}
