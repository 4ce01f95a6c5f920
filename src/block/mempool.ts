import { alignedArrayBuffer, alignedMemoryAvailable } from '../native/aligned-memory.js';
import type { CancelSignal } from './cancel.js';
import { BlockError } from './device.js';

/**
 * ArrayBuffers that hold pool pages. Each one starts at an address the pool
 * treats as aligned to its page size, and pages sit at byteOffsets that are
 * multiples of the page size, so `isPoolMemory` + byteOffset tell the
 * alignment of any view into them.
 */
export const POOL_MEMORY = new WeakSet<ArrayBufferLike>();
const baseAlignment = new WeakMap<ArrayBufferLike, number>();

export function isPoolMemory(buf: Buffer): boolean {
  return POOL_MEMORY.has(buf.buffer);
}

/** Alignment the pool guarantees for the start of `buf`'s ArrayBuffer; 0 when unknown (not pool memory). */
export function poolBaseAlignment(buf: Buffer): number {
  return baseAlignment.get(buf.buffer) ?? 0;
}

export interface MempoolOptions {
  /** Number of pages; fixed for the life of the pool. */
  readonly pages: number;
  /** Bytes per page, e.g. 64 KiB. */
  readonly pageSize: number;
  /** Largest ArrayBuffer the pool allocates at once (pages are carved out of these). Default 64 MiB. */
  readonly runBytes?: number;
  /**
   * Source of page memory; must return a fresh ArrayBuffer of exactly `bytes`
   * whose start is aligned to pageSize (e.g. posix_memalign through FFI).
   * Default: posix_memalign (native/aligned-memory.ts) where libc is reachable; otherwise
   * Buffer.allocUnsafeSlow, whose alignment is unknown, so the pool then claims none.
   */
  readonly allocateRun?: (bytes: number) => ArrayBuffer;
}

export interface AllocOptions {
  readonly signal?: CancelSignal;
  /** Give up (POOL_EXHAUSTED) after this long; 0 = do not wait; default: wait until served. */
  readonly timeoutMs?: number;
}

export interface MempoolStats {
  readonly capacity: number;
  readonly pageSize: number;
  readonly inUse: number;
  readonly available: number;
  /** Allocations queued right now. */
  readonly waiting: number;
  readonly highWater: number;
  /** Successful allocations (of any number of pages). */
  readonly allocations: number;
  /** Allocations that had to queue. */
  readonly waits: number;
  /** Allocations that were refused: timeout, too large, aborted, injected fault. */
  readonly failures: number;
}

interface Waiter {
  readonly n: number;
  resolve(pages: Buffer[]): void;
  fail(err: BlockError): void;
}

const DEFAULT_RUN_BYTES = 64 * 1024 * 1024;

/**
 * A bounded set of equally sized pages, allocated once. Allocation is all or
 * nothing and waiters are served strictly in arrival order, so a large request
 * cannot be starved by a stream of small ones. The pool never hands out more
 * pages than it has; callers keep the forward-progress rule (DESIGN.md §3).
 */
export class Mempool {
  readonly pageSize: number;
  readonly capacity: number;
  /** Test hook: return true to make an allocation of `n` pages fail as if the pool were exhausted. */
  faultInjector: ((n: number) => boolean) | undefined;

  private readonly freePages: Buffer[] = [];
  /** Every page's number, set once (a Set of pages taken would be rebuilt per allocation: see shared/int-map.ts). */
  private readonly pageIndex = new Map<Buffer, number>();
  private readonly isTaken: Uint8Array;
  private takenCount = 0;
  private readonly waiters: Waiter[] = [];
  private highWater = 0;
  private allocations = 0;
  private waits = 0;
  private failures = 0;

  constructor(opts: MempoolOptions) {
    const { pages, pageSize } = opts;
    if (!Number.isSafeInteger(pages) || pages < 1) throw new RangeError(`Mempool: pages must be >= 1, got ${pages}`);
    if (!Number.isSafeInteger(pageSize) || pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
      throw new RangeError(`Mempool: pageSize must be a power of two >= 512, got ${pageSize}`);
    }
    this.pageSize = pageSize;
    this.capacity = pages;
    this.isTaken = new Uint8Array(pages);
    // Alignment is recorded only where it is a fact: a caller's allocateRun promises it, posix_memalign gives it.
    const native = opts.allocateRun === undefined && alignedMemoryAvailable();
    const aligned = opts.allocateRun !== undefined || native;
    const allocateRun =
      opts.allocateRun ??
      (native ? (bytes: number) => alignedArrayBuffer(bytes, pageSize) : (bytes: number) => Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer);
    const pagesPerRun = Math.max(1, Math.floor((opts.runBytes ?? DEFAULT_RUN_BYTES) / pageSize));
    for (let made = 0; made < pages; ) {
      const count = Math.min(pagesPerRun, pages - made);
      const run = allocateRun(count * pageSize);
      if (run.byteLength < count * pageSize) throw new RangeError('Mempool: allocateRun returned a short buffer');
      POOL_MEMORY.add(run);
      if (aligned) baseAlignment.set(run, pageSize);
      for (let i = 0; i < count; i++) {
        const page = Buffer.from(run, i * pageSize, pageSize);
        this.pageIndex.set(page, this.pageIndex.size);
        this.freePages.push(page);
      }
      made += count;
    }
  }

  get inUse(): number {
    return this.takenCount;
  }

  get available(): number {
    return this.freePages.length;
  }

  get stats(): MempoolStats {
    return {
      capacity: this.capacity,
      pageSize: this.pageSize,
      inUse: this.takenCount,
      available: this.freePages.length,
      waiting: this.waiters.length,
      highWater: this.highWater,
      allocations: this.allocations,
      waits: this.waits,
      failures: this.failures,
    };
  }

  /** `n` pages now, or null. Never jumps the queue of waiting allocations. */
  tryAlloc(n: number): Buffer[] | null {
    checkCount(n);
    if (n === 0) return [];
    if (n > this.capacity || this.injectFault(n)) {
      this.failures++;
      return null;
    }
    if (this.waiters.length > 0 || this.freePages.length < n) return null;
    return this.take(n);
  }

  /**
   * `n` pages, waiting in FIFO order if needed. Rejects with POOL_EXHAUSTED when
   * n > capacity or on timeout, ABORTED when the signal fires.
   */
  alloc(n: number, opts: AllocOptions = {}): Promise<Buffer[]> {
    checkCount(n);
    if (n === 0) return Promise.resolve([]);
    const { signal, timeoutMs } = opts;
    if (signal?.aborted) return this.refuse(new BlockError('ABORTED', 'pool allocation aborted'));
    if (n > this.capacity) {
      return this.refuse(new BlockError('POOL_EXHAUSTED', `${n} pages requested, pool has ${this.capacity}`));
    }
    if (this.injectFault(n)) return this.refuse(new BlockError('POOL_EXHAUSTED', 'pool allocation failed (injected)'));
    if (this.waiters.length === 0 && this.freePages.length >= n) return Promise.resolve(this.take(n));
    if (timeoutMs !== undefined && timeoutMs <= 0) {
      return this.refuse(new BlockError('POOL_EXHAUSTED', `${n} pages not available`));
    }

    this.waits++;
    return new Promise<Buffer[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => waiter.fail(new BlockError('ABORTED', 'pool allocation aborted'));
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        offAbort?.();
      };
      const waiter: Waiter = {
        n,
        resolve: (pages) => {
          cleanup();
          resolve(pages);
        },
        fail: (err) => {
          const at = this.waiters.indexOf(waiter);
          if (at < 0) return; // already served
          this.waiters.splice(at, 1);
          cleanup();
          this.failures++;
          reject(err);
          // A departing head may have been blocking smaller requests behind it.
          if (at === 0) this.serveWaiters();
        },
      };
      this.waiters.push(waiter);
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => waiter.fail(new BlockError('POOL_EXHAUSTED', `${n} pages not available within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
      // Registered last: `signal` is not aborted yet (checked above), so cleanup never runs before this.
      const offAbort = signal?.onAbort(onAbort);
    });
  }

  /** Give pages back. Throws (and frees nothing) on a page that this pool did not hand out. */
  free(pages: readonly Buffer[]): void {
    for (const p of pages) {
      const i = this.pageIndex.get(p);
      if (i === undefined || this.isTaken[i] !== 1) throw new Error('Mempool.free: page not allocated from this pool (or freed twice)');
    }
    if (pages.length > 1 && new Set(pages).size !== pages.length) throw new Error('Mempool.free: the same page given twice');
    for (const p of pages) {
      this.isTaken[this.pageIndex.get(p)!] = 0;
      this.freePages.push(p);
    }
    this.takenCount -= pages.length;
    this.serveWaiters();
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const head = this.waiters[0]!;
      if (this.freePages.length < head.n) return;
      this.waiters.shift();
      head.resolve(this.take(head.n));
    }
  }

  private take(n: number): Buffer[] {
    const pages = this.freePages.splice(this.freePages.length - n, n);
    for (const p of pages) this.isTaken[this.pageIndex.get(p)!] = 1;
    this.takenCount += n;
    this.allocations++;
    if (this.takenCount > this.highWater) this.highWater = this.takenCount;
    return pages;
  }

  private injectFault(n: number): boolean {
    return this.faultInjector !== undefined && this.faultInjector(n);
  }

  private refuse(err: BlockError): Promise<never> {
    this.failures++;
    return Promise.reject(err);
  }
}

function checkCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Mempool: page count must be a non-negative integer, got ${n}`);
}
