/**
 * A target-wide bound on bytes held in memory for initiators, with a fair share per owner (a
 * session for write data, a connection for read data). Without a bound, a few sessions of many
 * commands x 8 MiB could make the process hold gigabytes; without the share, one session could take
 * it all and starve every other.
 *
 * A command reserves all the bytes it still needs at once and keeps them until it ends. Reserving
 * the whole remainder (not piece by piece) is what guarantees forward progress: a command that holds
 * a reservation can always finish, so reservations are always given back; reserving piecemeal could
 * let every command hold a part and wait forever for the rest. Waiters are served in arrival order,
 * so a large command is not starved by a stream of small ones; a waiter held back only by its own
 * owner's share does not hold up the others. One reservation larger than the whole budget (or the
 * share) is let through when nothing else holds any (of the owner's share).
 */
export interface ByteReservation {
  /** False while queued; the grant callback runs when it becomes true. */
  readonly granted: boolean;
  /** Bytes counted against the budget (once granted). */
  readonly bytes: number;
  /** Give the bytes back (or leave the queue). Idempotent. */
  release(): void;
}

/** Who a reservation counts against for the per-owner share: any object (a session, a connection). */
export type BudgetOwner = object;

interface Waiter {
  readonly onGrant: () => void;
  readonly reservation: Reservation;
}

class Reservation implements ByteReservation {
  granted = false;
  released = false;
  /** Bytes the same command holds in other reservations of this budget. */
  own = 0;

  constructor(
    private readonly budget: ByteBudget,
    readonly owner: BudgetOwner,
    readonly bytes: number,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.giveBack(this);
  }
}

const NO_OWNER: BudgetOwner = {};

export class ByteBudget {
  private used = 0;
  private readonly queue: Waiter[] = [];
  /** Bytes per owner (a WeakMap: a Map that gains and loses an owner per command chains its tables, see shared/int-map.ts). */
  private readonly byOwner = new WeakMap<BudgetOwner, number>();

  constructor(
    readonly limit: number,
    /** The most one owner may hold (default: the whole limit). */
    readonly perOwnerLimit: number = limit,
  ) {
    if (!(limit > 0)) throw new RangeError(`byte budget ${limit} must be positive`);
    if (!(perOwnerLimit > 0)) throw new RangeError(`per-owner share ${perOwnerLimit} must be positive`);
  }

  /** Bytes currently reserved. */
  get inUse(): number {
    return this.used;
  }

  /** Reservations waiting for bytes. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Bytes one owner holds. */
  heldBy(owner: BudgetOwner): number {
    return this.byOwner.get(owner) ?? 0;
  }

  /**
   * Reserve `bytes`: granted at once when nobody is queued ahead and it fits; otherwise queued, and
   * `onGrant` runs (from a microtask) once it is granted.
   */
  reserve(bytes: number, onGrant: () => void, owner: BudgetOwner = NO_OWNER, alongside: readonly ByteReservation[] = []): ByteReservation {
    const r = new Reservation(this, owner, bytes);
    // What the same command already holds does not count as "someone else holds bytes" for the
    // one-large-reservation-alone rule: else a command holding its unsolicited burst could never
    // get the rest of a write larger than its share.
    for (const a of alongside) if (a.granted) r.own += a.bytes;
    this.queue.push({ onGrant, reservation: r });
    this.grantWaiting(r);
    return r;
  }

  /**
   * Reserve without waiting, for bytes that are already in memory (immediate and unsolicited data):
   * undefined when they do not fit, or would take room the oldest waiter is owed. An owner that
   * holds nothing always gets its bytes (one first burst per session over the limit at most): the
   * budget's crowd cannot make a quiet session's first write fail.
   */
  tryReserve(bytes: number, owner: BudgetOwner = NO_OWNER): ByteReservation | undefined {
    if (owner !== NO_OWNER && this.heldBy(owner) === 0) {
      const first = new Reservation(this, owner, bytes);
      this.take(first);
      return first;
    }
    const head = this.queue.find((w) => this.fitsOwner(w.reservation.owner, w.reservation.bytes, w.reservation.own))?.reservation.bytes ?? 0;
    if (this.used + bytes + head > this.limit && !(this.used === 0 && head === 0)) return undefined;
    if (!this.fitsOwner(owner, bytes)) return undefined;
    const r = new Reservation(this, owner, bytes);
    this.take(r);
    return r;
  }

  /** @internal Called by Reservation.release(). */
  giveBack(r: Reservation): void {
    if (r.granted) {
      this.used -= r.bytes;
      const left = this.heldBy(r.owner) - r.bytes;
      if (left > 0) this.byOwner.set(r.owner, left);
      else this.byOwner.delete(r.owner);
    } else {
      const i = this.queue.findIndex((w) => w.reservation === r);
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.grantWaiting();
  }

  private fitsGlobally(bytes: number, own = 0): boolean {
    return this.used <= own || this.used + bytes <= this.limit;
  }

  private fitsOwner(owner: BudgetOwner, bytes: number, own = 0): boolean {
    if (owner === NO_OWNER) return true;
    const held = this.heldBy(owner);
    return held <= own || held + bytes <= this.perOwnerLimit;
  }

  private take(r: Reservation): void {
    r.granted = true;
    this.used += r.bytes;
    this.byOwner.set(r.owner, this.heldBy(r.owner) + r.bytes);
  }

  /**
   * Grant waiters: each time the one whose owner holds least (the oldest among equals), so a
   * session or connection that holds nothing is served before one that already holds its share:
   * many hostile owners cannot keep a newcomer waiting behind their own queues. Nobody overtakes the
   * chosen waiter when it is short of global room (a large request is not starved by small ones).
   * `caller` is being reserved right now and learns it from `granted`, not a callback.
   */
  private grantWaiting(caller?: Reservation): void {
    for (;;) {
      let best = -1;
      let bestHeld = Infinity;
      for (let i = 0; i < this.queue.length; i++) {
        const r = this.queue[i]!.reservation;
        if (!this.fitsOwner(r.owner, r.bytes, r.own)) continue; // waits for its own owner to give back
        const held = this.heldBy(r.owner) - r.own;
        if (held < bestHeld) {
          best = i;
          bestHeld = held;
        }
      }
      if (best < 0) return;
      const w = this.queue[best]!;
      const r = w.reservation;
      if (!this.fitsGlobally(r.bytes, r.own)) return;
      this.queue.splice(best, 1);
      this.take(r);
      if (r === caller) continue;
      // Not re-entrant: the grantee sends R2Ts, which must not run inside someone else's release().
      queueMicrotask(() => {
        if (!r.released) w.onGrant();
      });
    }
  }
}
