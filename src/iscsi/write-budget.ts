/**
 * A target-wide bound on solicited Data-Out held in memory. Every write command keeps the
 * Data-Out it asked for with R2Ts until the SCSI core is done with it; without a bound, a few
 * sessions of 128 commands x 8 MiB could make the process hold gigabytes.
 *
 * A command reserves all the solicited bytes it still needs at once, before its first R2T, and
 * keeps them until it ends. Reserving the whole remainder (not R2T by R2T) is what guarantees
 * forward progress: a command that holds a reservation can always finish, so reservations are
 * always given back; reserving piecemeal could let every command hold a part and wait forever for
 * the rest. Requests are served in arrival order, so a large command is not starved by a stream
 * of small ones, and one larger than the whole budget is let through when nothing else holds any.
 */
export interface WriteReservation {
  /** False while queued; the grant callback runs when it becomes true. */
  readonly granted: boolean;
  /** Give the bytes back (or leave the queue). Idempotent. */
  release(): void;
}

interface Waiter {
  readonly bytes: number;
  readonly onGrant: () => void;
  reservation: Reservation;
}

class Reservation implements WriteReservation {
  granted = false;
  released = false;

  constructor(
    private readonly budget: WriteBudget,
    readonly bytes: number,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.giveBack(this);
  }
}

export class WriteBudget {
  private used = 0;
  private readonly queue: Waiter[] = [];

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new RangeError(`write budget ${limit} must be positive`);
  }

  /** Bytes currently reserved. */
  get inUse(): number {
    return this.used;
  }

  /** Reservations waiting for bytes. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Reserve `bytes`: granted at once when nobody is queued and it fits (or nothing is reserved);
   * otherwise queued, and `onGrant` runs (from a microtask) once it is granted.
   */
  reserve(bytes: number, onGrant: () => void): WriteReservation {
    const r = new Reservation(this, bytes);
    if (this.queue.length === 0 && this.fits(bytes)) {
      this.take(r);
      return r;
    }
    this.queue.push({ bytes, onGrant, reservation: r });
    return r;
  }

  /** @internal Called by Reservation.release(). */
  giveBack(r: Reservation): void {
    if (r.granted) {
      this.used -= r.bytes;
    } else {
      const i = this.queue.findIndex((w) => w.reservation === r);
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.grantWaiting();
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit;
  }

  private take(r: Reservation): void {
    r.granted = true;
    this.used += r.bytes;
  }

  private grantWaiting(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.bytes)) {
      const w = this.queue.shift()!;
      this.take(w.reservation);
      // Not re-entrant: the grantee sends R2Ts, which must not run inside someone else's release().
      queueMicrotask(() => {
        if (!w.reservation.released) w.onGrant();
      });
    }
  }
}
