/**
 * Brake on CHAP guessing: failed authentications are counted per initiator
 * name and per source address. Each consecutive failure doubles the time the
 * target waits before it answers (from `failureDelayMs` up to
 * `maxFailureDelayMs`), and no answer from that name or address is even
 * checked before that time has passed: an attacker who hangs up instead of
 * waiting for the (held) failure gains nothing, since a success is never held.
 * After `lockoutAfterFailures` failures every CHAP login of that name or from
 * that address fails for `lockoutMs`, the correct secret included. A success
 * clears both counters.
 *
 * Memory is bounded: each table keeps at most `maxEntries` keys (the least
 * recently failed one goes first) and forgets a key once it has been quiet for
 * max(lockoutMs, 10 x maxFailureDelayMs).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface AuthThrottleConfig {
  /** Delay before the answer to the first failure; doubles with each consecutive one. 0 = no delay. */
  readonly failureDelayMs: number;
  /** Upper bound of that delay. */
  readonly maxFailureDelayMs: number;
  /** Consecutive failures that start a lockout; 0 = never lock out. */
  readonly lockoutAfterFailures: number;
  /** How long a lockout lasts. */
  readonly lockoutMs: number;
}

/** Production defaults (config `iscsi.authThrottle`): 1 s doubling to 30 s, locked for 5 min after 10. */
export const DEFAULT_AUTH_THROTTLE: AuthThrottleConfig = {
  failureDelayMs: 1000,
  maxFailureDelayMs: 30_000,
  lockoutAfterFailures: 10,
  lockoutMs: 300_000,
};

/** Slack on the "not before" time of the next answer (see recordFailure). */
const NOT_BEFORE_SLACK_MS = 50;

export interface AuthThrottleOptions {
  /** Milliseconds clock; tests pass a fake one. */
  readonly now?: () => number;
  /** Keys kept per table (initiator names, addresses). */
  readonly maxEntries?: number;
}

/** Whether a CHAP answer may be checked now: 'too-soon' while the last failure's delay runs. */
export type ThrottleGate = 'open' | 'too-soon' | 'locked-out';

export interface FailureVerdict {
  /** How long to hold the failure answer. */
  readonly delayMs: number;
  /** Consecutive failures so far (the larger of the name's and the address's count). */
  readonly failures: number;
  /** Whether the name or the address is locked out now (this failure may have started it). */
  readonly lockedOut: boolean;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  /** No answer is checked before this (the delay of the last failure). */
  notBefore: number;
  lockedUntil: number;
}

/** One table of consecutive failures, least recently failed first (a Map iterates in insertion order). */
class FailureTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly forgetAfterMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  lookup(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && this.forgotten(entry, now)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  fail(key: string, now: number, cfg: AuthThrottleConfig): Entry {
    const entry = this.lookup(key, now) ?? { failures: 0, lastFailureAt: now, notBefore: 0, lockedUntil: 0 };
    entry.failures++;
    entry.lastFailureAt = now;
    // Attempts during a lockout do not extend it; one after it ends starts the next at once.
    const threshold = cfg.lockoutAfterFailures;
    if (threshold > 0 && entry.failures >= threshold && now >= entry.lockedUntil) entry.lockedUntil = now + cfg.lockoutMs;
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.evict();
    return entry;
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  private forgotten(entry: Entry, now: number): boolean {
    return now >= entry.lockedUntil && now - entry.lastFailureAt >= this.forgetAfterMs;
  }

  /** Drop the least recently failed keys beyond the bound (oldest are also the likeliest to be stale). */
  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) return;
      this.entries.delete(key);
    }
  }
}

export class AuthThrottle {
  private readonly now: () => number;
  private readonly byInitiator: FailureTable;
  private readonly byAddress: FailureTable;

  constructor(
    readonly config: AuthThrottleConfig = DEFAULT_AUTH_THROTTLE,
    opts: AuthThrottleOptions = {},
  ) {
    for (const [name, value] of Object.entries(config)) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number >= 0, got ${value}`);
    }
    const maxEntries = opts.maxEntries ?? 10_000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be >= 1, got ${maxEntries}`);
    this.now = opts.now ?? Date.now;
    const forgetAfterMs = Math.max(config.lockoutMs, 10 * config.maxFailureDelayMs);
    this.byInitiator = new FailureTable(maxEntries, forgetAfterMs);
    this.byAddress = new FailureTable(maxEntries, forgetAfterMs);
  }

  /** Keys tracked, for tests and diagnostics. */
  get tracked(): { initiators: number; addresses: number } {
    return { initiators: this.byInitiator.size, addresses: this.byAddress.size };
  }

  /** May a CHAP answer of this initiator from this address be checked now? */
  gate(initiatorName: string, address: string): ThrottleGate {
    const now = this.now();
    const entries = [
      this.byInitiator.lookup(initiatorKey(initiatorName), now),
      this.byAddress.lookup(addressKey(address), now),
    ];
    if (entries.some((e) => e !== undefined && now < e.lockedUntil)) return 'locked-out';
    if (entries.some((e) => e !== undefined && now < e.notBefore)) return 'too-soon';
    return 'open';
  }

  isLockedOut(initiatorName: string, address: string): boolean {
    return this.gate(initiatorName, address) === 'locked-out';
  }

  recordFailure(initiatorName: string, address: string): FailureVerdict {
    const now = this.now();
    const name = this.byInitiator.fail(initiatorKey(initiatorName), now, this.config);
    const addr = this.byAddress.fail(addressKey(address), now, this.config);
    const failures = Math.max(name.failures, addr.failures);
    const delayMs = this.delayFor(failures);
    // The held answer goes out by a timer that may fire a little before this clock says the delay
    // is over; leave that much slack so that a client that waited for the answer is never "too soon".
    const notBefore = now + delayMs - Math.min(NOT_BEFORE_SLACK_MS, delayMs / 2);
    for (const e of [name, addr]) e.notBefore = Math.max(e.notBefore, notBefore);
    return { delayMs, failures, lockedOut: now < name.lockedUntil || now < addr.lockedUntil };
  }

  recordSuccess(initiatorName: string, address: string): void {
    this.byInitiator.clear(initiatorKey(initiatorName));
    this.byAddress.clear(addressKey(address));
  }

  /** base x 2^(failures-1), capped. */
  delayFor(failures: number): number {
    const { failureDelayMs: base, maxFailureDelayMs: cap } = this.config;
    if (failures < 1 || base === 0) return 0;
    return Math.min(cap, base * 2 ** Math.min(failures - 1, 40));
  }
}

/** iSCSI names compare case-folded (RFC 3722). */
function initiatorKey(name: string): string {
  return name.toLowerCase();
}

/**
 * The address a failure is charged to: IPv4 as is (also when mapped into
 * IPv6), IPv6 by its /64 prefix, since one host usually owns a whole /64 and
 * could otherwise change address for every guess.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIPv4(address)) return address;
  const bare = address.replace(/%.*$/, '');
  if (!isIPv6(bare)) return address;
  return `${expandIPv6(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of a valid IPv6 address (an embedded IPv4 tail becomes two). */
function expandIPv6(address: string): string[] {
  const toHextets = (part: string): string[] => {
    if (part === '') return [];
    const groups = part.split(':');
    const last = groups[groups.length - 1] ?? '';
    if (!last.includes('.')) return groups;
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    return [...groups.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  };
  const [head = '', tail] = address.split('::');
  const left = toHextets(head);
  const right = tail === undefined ? [] : toHextets(tail);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((h) => Number.parseInt(h, 16).toString(16));
}
