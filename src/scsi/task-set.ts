import type { CancelSignal } from '../block/cancel.js';
import { IntMap } from '../shared/int-map.js';
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
  /** Live entries by seq (not a Map: see int-map.ts). */
  private readonly live = new IntMap<T>();
  /** Entries in arrival order from `head` on, live or ended; the ended are dropped from the front, or all at once when they pile up behind a long task. */
  private order: (T | undefined)[] = [];
  private head = 0;
  /** Live ORDERED / HEAD OF QUEUE entries, oldest first: the barriers SIMPLE tasks respect. */
  private readonly barriers: T[] = [];
  private readonly waiters = new Map<T, (enabled: boolean) => void>();
  /** whenEmpty() callers, released when the last live entry leaves. */
  private emptyWaiters: (() => void)[] = [];

  get size(): number {
    return this.live.size;
  }

  add(entry: T): void {
    this.live.set(entry.seq, entry);
    this.order.push(entry);
    if (entry.attr !== 'simple') this.barriers.push(entry);
  }

  /** Resolves once no entry is live (at once when none is). Entries added meanwhile are waited for too. */
  whenEmpty(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  has(entry: T): boolean {
    return this.live.get(entry.seq) === entry;
  }

  /** Live entries, oldest first. */
  *entries(): IterableIterator<T> {
    for (const e of this.order.slice(this.head)) if (e && this.has(e)) yield e;
  }

  /** The entry has ended (or was aborted): it stops blocking; waiters it held back are released. */
  remove(entry: T): void {
    if (!this.has(entry)) return;
    this.live.delete(entry.seq);
    this.trimOrder();
    if (this.live.size === 0 && this.emptyWaiters.length > 0) {
      const released = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const resolve of released) resolve();
    }
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
      default:
        return this.order[this.head] === entry;
    }
  }

  /** Drop ended entries from the front; rebuild when ended ones behind a live one outnumber the live. */
  private trimOrder(): void {
    const order = this.order;
    while (this.head < order.length && !this.has(order[this.head]!)) order[this.head++] = undefined;
    if (this.head === order.length) {
      this.order = [];
      this.head = 0;
    } else if (order.length - this.head > 2 * this.live.size + 64) {
      this.order = order.slice(this.head).filter((e) => e !== undefined && this.has(e));
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
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
