/** Timer functions, injectable so keepalive and the watchdog are tested without waiting. */
export interface ConnectionTimers {
  setTimeout: typeof setTimeout;
  clearTimeout: typeof clearTimeout;
}

export interface KeepaliveOptions {
  /** Seconds without traffic before the target pings with a NOP-In; 0 = off. */
  readonly intervalS: number;
  /** Seconds to wait for the answer before the connection is dropped. */
  readonly timeoutS: number;
}

/** What keepalive asks of its connection. */
export interface KeepaliveHost {
  /** Send a NOP-In ping carrying `ttt` (ITT 0xffffffff). */
  ping(ttt: number): void;
  /** No answer in time: drop the connection. */
  unanswered(): void;
}

/**
 * NOP-In keepalive (RFC 7143 §11.19): after `intervalS` seconds without anything received, ping;
 * the initiator answers with a NOP-Out carrying our TTT; no answer within `timeoutS` seconds drops
 * the connection. Any traffic counts as a sign of life, so a busy connection is never pinged.
 */
export class Keepalive {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ttt = 0;
  private outstanding: number | undefined;
  private lastReceive: number;
  private stopped = false;

  constructor(
    private readonly opts: KeepaliveOptions,
    private readonly timers: ConnectionTimers,
    private readonly clock: () => number,
    private readonly host: KeepaliveHost,
  ) {
    this.lastReceive = clock();
  }

  /** Bytes came in. */
  received(): void {
    this.lastReceive = this.clock();
  }

  /** True (and the ping is settled) if a NOP-Out with this TTT is the answer to our outstanding ping. */
  takeAnswer(ttt: number): boolean {
    if (this.outstanding === undefined || ttt !== this.outstanding) return false;
    this.outstanding = undefined;
    this.schedule();
    return true;
  }

  /** Start (or restart) the idle timer: called when full feature phase begins. */
  schedule(): void {
    this.clear();
    if (this.stopped || this.opts.intervalS <= 0) return;
    const interval = this.opts.intervalS * 1000;
    this.timer = this.timers.setTimeout(() => {
      const idle = this.clock() - this.lastReceive;
      if (idle < interval) {
        this.timer = this.timers.setTimeout(() => this.schedule(), interval - idle);
        this.timer.unref?.();
        return;
      }
      this.sendPing();
    }, interval);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private sendPing(): void {
    this.ttt = (this.ttt + 1) & 0x7fffffff;
    this.outstanding = this.ttt;
    this.host.ping(this.ttt);
    this.timer = this.timers.setTimeout(() => {
      if (this.outstanding !== undefined) this.host.unanswered();
    }, this.opts.timeoutS * 1000);
    this.timer.unref?.();
  }
}
