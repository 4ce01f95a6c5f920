import { SlotList } from '../shared/slot-list.js';

/**
 * Block-range lock of one LU, for COMPARE AND WRITE, ORWRITE and WRITE ATOMIC: their read-modify-write
 * or all-or-nothing write must not interleave with any other write to the same blocks. Plain writes
 * take the range shared (they may overlap each other: SBC orders nothing between SIMPLE tasks), and
 * so do READs on LUs that offer WRITE ATOMIC; those three take it exclusive. Each request waits only for earlier conflicting requests (FIFO), so nothing starves
 * and nothing deadlocks: every wait is on a request that was already admitted before it.
 */
export type Unlock = () => void;

interface Entry {
  readonly start: number;
  readonly end: number;
  readonly exclusive: boolean;
  /** Made only when a later request has to wait for this one (READs lock too: keep the common case cheap). */
  released?: Promise<void>;
  release?: () => void;
}

export class RangeLock {
  private readonly entries = new SlotList<Entry>();
  /** Exclusive entries held or waiting: with none, a shared request conflicts with nothing. */
  private exclusives = 0;

  /**
   * Blocks [lba, lba + blocks). Returns the unlock function at once when nothing earlier conflicts
   * (the common case for plain writes: no promise, no extra turn of the event loop), else a promise of it.
   */
  lock(lba: number, blocks: number, exclusive: boolean): Unlock | Promise<Unlock> {
    const entry: Entry = { start: lba, end: lba + Math.max(blocks, 1), exclusive };
    const blockers: Promise<void>[] = [];
    if (exclusive || this.exclusives > 0) {
      for (const other of this.entries.values()) {
        if ((other.exclusive || exclusive) && other.start < entry.end && entry.start < other.end) {
          blockers.push((other.released ??= new Promise<void>((r) => (other.release = r))));
        }
      }
    }
    const slot = this.entries.add(entry);
    if (exclusive) this.exclusives++;
    let done = false;
    const unlock: Unlock = () => {
      if (done) return;
      done = true;
      this.entries.remove(slot);
      if (exclusive) this.exclusives--;
      entry.release?.();
    };
    return blockers.length === 0 ? unlock : Promise.all(blockers).then(() => unlock);
  }

  /** Requests holding or waiting (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }
}

/** Runs `body` holding [lba, lba + blocks). */
export function withRange<T>(lock: RangeLock, lba: number, blocks: number, exclusive: boolean, body: () => Promise<T>): Promise<T> {
  const got = lock.lock(lba, blocks, exclusive);
  // Usually free at once: then no promise waits for the lock (every READ and WRITE passes here).
  return typeof got === 'function' ? runLocked(got, body) : got.then((unlock) => runLocked(unlock, body));
}

/** `body` under a held range; the range is let go of however it ends. */
function runLocked<T>(unlock: () => void, body: () => Promise<T>): Promise<T> {
  let p: Promise<T>;
  try {
    p = body();
  } catch (err) {
    unlock();
    return Promise.reject(err as Error);
  }
  return p.then(
    (value) => {
      unlock();
      return value;
    },
    (err: unknown) => {
      unlock();
      throw err;
    },
  );
}
