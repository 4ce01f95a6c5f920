import type { ConnectionTimers } from './keepalive.js';

/** How long the target waits for a peer before it drops the connection (ms). */
export interface ConnectionDeadlines {
  /** From accept to the first complete PDU (a Login Request). */
  readonly firstPduMs: number;
  /** From the first byte of a PDU to its last. */
  readonly pduMs: number;
  /** While PDUs we queued make no progress into the peer's socket. */
  readonly sendStallMs: number;
  /** Finest deadline the handler needs in onTick (e.g. the Data-Out timeout); sets the tick period. */
  readonly handlerMs?: number;
}

/** What the watchdog reads from its connection at each tick. */
export interface WatchSample {
  readonly loggedIn: boolean;
  /** PDUs framed so far. */
  readonly pdusFramed: number;
  /** Part of a PDU has arrived, not all of it. */
  readonly midPdu: boolean;
  /** Bytes handed to the socket so far, and those of them still queued in it. */
  readonly queuedTotal: number;
  readonly unsentBytes: number;
}

export interface WatchedConnection {
  readonly acceptedAt: number;
  sample(): WatchSample;
  /** Drop the connection: a deadline passed. */
  drop(reason: string, fields: Record<string, unknown>, warning: string): void;
  /** The handler's own deadlines (Data-Out) ride on the tick. */
  tick(now: number): void;
}

/**
 * One periodic check per connection for a peer that stalls (cheaper than a timer per PDU): no Login
 * Request soon after accept, a PDU that started but does not finish (slow-loris), our queued PDUs not
 * taken for too long (a peer that stopped reading). Ticks at a quarter of the finest deadline.
 */
export class Watchdog {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private pdus = 0;
  private partialSince: number | undefined;
  private sent = 0;
  private stallSince: number | undefined;

  constructor(
    private readonly deadlines: ConnectionDeadlines,
    private readonly timers: ConnectionTimers,
    private readonly clock: () => number,
    private readonly conn: WatchedConnection,
  ) {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.timers.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    const d = this.deadlines;
    const finest = Math.min(d.firstPduMs, d.pduMs, d.sendStallMs, d.handlerMs ?? Infinity);
    const period = Math.max(20, Math.min(1000, finest / 4));
    this.timer = this.timers.setTimeout(() => {
      this.check();
      this.schedule();
    }, period);
    this.timer.unref?.();
  }

  private check(): void {
    const d = this.deadlines;
    const c = this.conn;
    const now = this.clock();
    const s = c.sample();
    const pdus = s.pdusFramed;
    if (pdus === 0 && !s.loggedIn && now - c.acceptedAt >= d.firstPduMs) {
      c.drop('no login request in time', { waitedMs: now - c.acceptedAt }, 'no Login Request in time; dropping connection');
      return;
    }
    if (!s.midPdu) this.partialSince = undefined;
    else if (pdus !== this.pdus || this.partialSince === undefined) this.partialSince = now;
    else if (now - this.partialSince >= d.pduMs) {
      c.drop('PDU not completed in time', { waitedMs: now - this.partialSince }, 'PDU not completed in time; dropping connection');
      return;
    }
    this.pdus = pdus;
    const unsent = s.unsentBytes;
    const sent = s.queuedTotal - unsent;
    if (unsent === 0 || sent !== this.sent) this.stallSince = undefined;
    else if (this.stallSince === undefined) this.stallSince = now;
    else if (now - this.stallSince >= d.sendStallMs) {
      c.drop('initiator stopped reading', { unsent, waitedMs: now - this.stallSince }, 'initiator stopped reading; dropping connection');
      return;
    }
    this.sent = sent;
    c.tick(now);
  }
}
