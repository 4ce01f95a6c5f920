import type { CancelSignal } from '../block/cancel.js';
import type { TaskAttribute } from './command.js';

export interface TaskSetEntry {
  /** Arrival order within the core; strictly increasing in the order entries are added. */
  readonly seq: number;
  readonly attr: TaskAttribute;
}

/**
 * One LU's task set (TST = 000b: shared by all I_T nexuses) and the SAM-5 rules for
 * when a task may start ("enabled"):
 * - HEAD OF QUEUE: at once;
 * - SIMPLE: once every older ORDERED and HEAD OF QUEUE task has ended;
 * - ORDERED: once every older task has ended.
 * Entries join on arrival (prepare), in command order, and leave when they end or are aborted.
 */
export class TaskSet<T extends TaskSetEntry> {
  /** Live entries by seq; a Map iterates in insertion order, so the first key is the oldest. */
  private readonly live = new Map<number, T>();
  /** Live ORDERED / HEAD OF QUEUE entries, oldest first: the barriers SIMPLE tasks respect. */
  private readonly barriers: T[] = [];
  private readonly waiters = new Map<T, (enabled: boolean) => void>();

  get size(): number {
    return this.live.size;
  }

  add(entry: T): void {
    this.live.set(entry.seq, entry);
    if (entry.attr !== 'simple') this.barriers.push(entry);
  }

  has(entry: T): boolean {
    return this.live.get(entry.seq) === entry;
  }

  entries(): IterableIterator<T> {
    return this.live.values();
  }

  /** The entry has ended (or was aborted): it stops blocking; waiters it held back are released. */
  remove(entry: T): void {
    if (!this.has(entry)) return;
    this.live.delete(entry.seq);
    if (entry.attr !== 'simple') {
      const i = this.barriers.indexOf(entry);
      if (i >= 0) this.barriers.splice(i, 1);
    }
    const wake = this.waiters.get(entry);
    if (wake) {
      this.waiters.delete(entry);
      wake(false);
    }
    for (const [waiting, resolve] of this.waiters) {
      if (this.isEnabled(waiting)) {
        this.waiters.delete(waiting);
        resolve(true);
      }
    }
  }

  isEnabled(entry: T): boolean {
    if (!this.has(entry)) return false;
    switch (entry.attr) {
      case 'headOfQueue':
        return true;
      case 'simple': {
        const oldestBarrier = this.barriers[0];
        return oldestBarrier === undefined || oldestBarrier.seq > entry.seq;
      }
      default: {
        const oldest: number | undefined = this.live.keys().next().value;
        return oldest === entry.seq;
      }
    }
  }

  /** Resolves true once the entry may start, false if it leaves the set or `signal` aborts first. */
  whenEnabled(entry: T, signal: CancelSignal): Promise<boolean> {
    if (!this.has(entry) || signal.aborted) return Promise.resolve(false);
    if (this.isEnabled(entry)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const offAbort = signal.onAbort(() => {
        this.waiters.delete(entry);
        resolve(false);
      });
      this.waiters.set(entry, (enabled) => {
        offAbort();
        resolve(enabled);
      });
    });
  }
}
