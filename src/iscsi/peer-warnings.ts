import type { Logger } from 'pino';

export interface PeerWarningsOptions {
  /** Warnings logged per peer address in each window; the rest are counted and summarised. */
  readonly burst: number;
  readonly windowMs: number;
  /** Peers remembered at once (the oldest is forgotten first): the limiter's own memory is bounded. */
  readonly maxPeers: number;
  /** Longest string value logged as sent by a peer; longer ones are cut and their length noted. */
  readonly maxStringLength: number;
}

const DEFAULTS: PeerWarningsOptions = { burst: 10, windowMs: 10_000, maxPeers: 4096, maxStringLength: 200 };

interface PeerBucket {
  windowStart: number;
  logged: number;
  suppressed: number;
}

/**
 * Warnings a peer can cause (malformed PDUs, protocol errors, refused logins) are logged at most
 * `burst` times per window per source address, so a hostile or broken initiator cannot flood the log;
 * what was held back is reported as one line with a count when the peer next warns after the window.
 * String values are cut to a bounded length: peer-provided text never makes an unbounded log line.
 */
export class PeerWarnings {
  private readonly peers = new Map<string, PeerBucket>();
  private readonly opts: PeerWarningsOptions;

  constructor(
    private readonly log: Logger,
    opts: Partial<PeerWarningsOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  warn(address: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    let bucket = this.peers.get(address);
    if (bucket && now - bucket.windowStart >= this.opts.windowMs) {
      if (bucket.suppressed > 0) {
        this.log.warn({ peer: address, suppressed: bucket.suppressed }, 'warnings from this peer were suppressed');
      }
      this.peers.delete(address);
      bucket = undefined;
    }
    if (!bucket) {
      bucket = { windowStart: now, logged: 0, suppressed: 0 };
      this.peers.set(address, bucket);
      if (this.peers.size > this.opts.maxPeers) this.peers.delete(this.peers.keys().next().value!);
    }
    if (bucket.logged >= this.opts.burst) {
      bucket.suppressed++;
      return;
    }
    bucket.logged++;
    this.log.warn(this.bounded(fields), message);
  }

  private bounded(fields: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) out[k] = typeof v === 'string' ? cut(v, this.opts.maxStringLength) : v;
    return out;
  }
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

/** The address part of a socket's remote address (IPv4-mapped IPv6 shown as IPv4). */
export function peerAddress(remoteAddress: string | undefined): string {
  const a = remoteAddress ?? 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
