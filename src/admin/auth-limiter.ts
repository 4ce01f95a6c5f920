/**
 * Failed admin authentications per source address, in fixed windows: after `maxFailures` in one
 * `windowMs` the address is refused (429) until its window ends, the right token included, so a
 * guesser learns nothing more. Addresses are counted apart: one address's failures or successes
 * never touch another's count. At most `maxAddresses` are kept (the longest quiet goes first), so
 * a flood of source addresses costs bounded memory.
 */
export interface AuthLimiterOptions {
  readonly maxFailures?: number;
  readonly windowMs?: number;
  readonly maxAddresses?: number;
  /** Milliseconds clock; tests pass a fake one. */
  readonly now?: () => number;
}

interface Window {
  start: number;
  failures: number;
}

export class AuthFailureLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();

  constructor(opts: AuthLimiterOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 10;
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfter(address: string): number {
    const w = this.current(address);
    if (w === undefined || w.failures < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((w.start + this.windowMs - this.now()) / 1000));
  }

  recordFailure(address: string): void {
    let w = this.current(address);
    if (w === undefined) {
      w = { start: this.now(), failures: 0 };
    }
    w.failures++;
    // Re-insert: the Map's order is then "least recently failed first".
    this.windows.delete(address);
    this.windows.set(address, w);
    if (this.windows.size > this.maxAddresses) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
  }

  get size(): number {
    return this.windows.size;
  }

  private current(address: string): Window | undefined {
    const w = this.windows.get(address);
    if (w === undefined) return undefined;
    if (this.now() - w.start >= this.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }
}
