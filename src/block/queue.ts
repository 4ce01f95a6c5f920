import type { CancelSignal } from './cancel.js';
import type { AllocationRun, Backstore, DiscardLimits, DiscardRange, ResizeRequest } from './backstore.js';
import { BackstoreError } from './backstore-error.js';
import { bounceIn, bounceOut, prepareBio } from './bounce.js';
import { BlockError, type BlockDevice, type BlockReadResult } from './device.js';
import { toBlockError } from './errors.js';
import { DeviceHealth, faultCauseOf } from './health.js';
import type { QueueLimits } from './limits.js';
import { mapSg, type MapSgOptions, type PlannedBio, type SgMapPlan } from './map-sg.js';
import type { Mempool } from './mempool.js';
import { Semaphore } from './semaphore.js';
import { SgVector } from './sg.js';
import { createBlockStats, recordBiosPerRequest, type BlockStats } from './stats.js';

export interface BlockQueueOptions {
  /** How long one bio may wait for bounce pages before the request fails with POOL_EXHAUSTED. Default 2000. */
  readonly poolWaitMs?: number;
  /**
   * Most pool pages one bio (or one read handed out as pool pages) may take.
   * Default half the pool, so a second bio can be filled while one is in flight.
   */
  readonly maxBouncePagesPerBio?: number;
  /** See MapSgOptions.tinySegmentBytes. */
  readonly tinySegmentBytes?: number;
  /** Where backstore errors are counted and logged, and faults kept (default: counted only). */
  readonly health?: DeviceHealth;
}

export const DEFAULT_POOL_WAIT_MS = 2000;
/** Reads at least this large use pool pages on a buffered backstore when pages are free. */
export const POOLED_READ_MIN_BYTES = 32 * 1024;

type Direction = 'read' | 'write';
type Operation = Direction | 'flush' | 'discard' | 'allocation';
const noop = (): void => {};

/**
 * The block layer over one backstore: maps SG vectors to bios (mapSg), bounces
 * what the backstore cannot take as is through the shared Mempool, and submits.
 *
 * Forward progress (DESIGN.md §3): a request allocates the pages of one bio at a
 * time, in order, and only after every earlier bio of the request has been
 * submitted, so while it waits for pages all the pages it holds are in flight
 * and will come back. Pages are taken before an in-flight slot, never the other
 * way round, so no request sits on a slot while waiting for memory.
 */
export class BlockQueue implements BlockDevice {
  readonly stats: BlockStats = createBlockStats();
  readonly limits: QueueLimits;
  /** Faults of the backstore: an offline medium, a failed write-back (see DeviceHealth). */
  readonly health: DeviceHealth;
  private readonly slots: Semaphore;
  private readonly mapOptions: MapSgOptions;
  private readonly poolWaitMs: number;
  private readonly maxPagesPerRequestBio: number;
  private readonly active = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  /** Resizes run one at a time. */
  private resizing: Promise<unknown> = Promise.resolve();

  constructor(
    readonly backstore: Backstore,
    readonly pool: Mempool,
    opts: BlockQueueOptions = {},
  ) {
    this.limits = backstore.limits;
    const { alignment, maxInflightBios } = this.limits;
    if (pool.pageSize % alignment !== 0) {
      throw new RangeError(`BlockQueue: pool page size ${pool.pageSize} is not a multiple of alignment ${alignment}`);
    }
    this.slots = new Semaphore(maxInflightBios);
    this.health = opts.health ?? new DeviceHealth();
    this.poolWaitMs = opts.poolWaitMs ?? DEFAULT_POOL_WAIT_MS;
    this.maxPagesPerRequestBio = Math.min(pool.capacity, opts.maxBouncePagesPerBio ?? Math.max(1, Math.floor(pool.capacity / 2)));
    this.mapOptions = {
      pageSize: pool.pageSize,
      maxBouncePages: this.maxPagesPerRequestBio,
      ...(opts.tinySegmentBytes !== undefined ? { tinySegmentBytes: opts.tinySegmentBytes } : {}),
    };
  }

  get size(): number {
    return this.backstore.size;
  }

  get blockSize(): number {
    return this.backstore.blockSize;
  }

  // Geometry passes through from the backstore (READ CAPACITY(16), VPD B0h / B2h).
  get physicalBlockSize(): number | undefined {
    return this.backstore.physicalBlockSize;
  }

  get lowestAlignedLba(): number | undefined {
    return this.backstore.lowestAlignedLba;
  }

  get minIoSize(): number | undefined {
    return this.backstore.minIoSize;
  }

  get discardLimits(): DiscardLimits | undefined {
    return this.backstore.discardLimits;
  }

  get readOnly(): boolean {
    return this.backstore.readOnly;
  }

  write(offset: number, data: SgVector, opts: { fua: boolean; signal?: CancelSignal }): Promise<void> {
    this.stats.writeRequests++;
    return this.track('write', offset, data.length, async () => {
      this.refuseIfOffline();
      if (this.backstore.readOnly) throw new BlockError('READ_ONLY', 'backstore is read-only');
      this.checkRange(offset, data.length);
      if (opts.fua) this.refuseIfWritebackFailed();
      if (data.length === 0) return;
      const plan = mapSg(data, offset, this.limits, this.mapOptions);
      // One durable bio is cheapest as a durable write; several are written and then flushed once.
      const several = plan.bios.length > 1;
      await this.run(plan, 'write', opts.fua && !several, opts.signal);
      if (opts.fua && several) await this.backstore.flush();
      this.stats.writtenBytes += data.length;
    });
  }

  read(offset: number, length: number, opts: { signal?: CancelSignal } = {}): Promise<BlockReadResult> {
    this.stats.readRequests++;
    return this.track('read', offset, length, async () => {
      this.refuseIfOffline();
      this.checkRange(offset, length);
      if (length === 0) return { data: new SgVector(), release: noop };
      const pages = Math.ceil(length / this.pool.pageSize);
      let result: BlockReadResult;
      if (this.limits.alignment > 1 && pages <= this.maxPagesPerRequestBio) {
        result = await this.readIntoPoolPages(offset, length, await this.allocPages(pages, opts.signal), opts.signal);
      } else if (length >= POOLED_READ_MIN_BYTES && pages <= this.maxPagesPerRequestBio) {
        // Large buffered reads land in preallocated pool pages when some are free right now
        // (never waiting: a fresh buffer is the fallback), sparing malloc/mmap and GC per read.
        const free = this.pool.tryAlloc(pages);
        result = free
          ? await this.readIntoPoolPages(offset, length, free, opts.signal)
          : await this.readIntoFreshBuffer(offset, length, opts.signal);
      } else {
        result = await this.readIntoFreshBuffer(offset, length, opts.signal);
      }
      this.stats.readBytes += length;
      return result;
    });
  }

  flush(): Promise<void> {
    this.stats.flushes++;
    return this.track('flush', undefined, undefined, async () => {
      this.refuseIfOffline();
      this.refuseIfWritebackFailed();
      await this.backstore.flush();
    });
  }

  /** Pass UNMAP / WRITE SAME(unmap) ranges to the backstore after a range check. */
  discard(ranges: readonly DiscardRange[], opts: { durable?: boolean } = {}): Promise<void> {
    return this.track('discard', undefined, undefined, async () => {
      this.refuseIfOffline();
      if (this.backstore.readOnly) throw new BlockError('READ_ONLY', 'backstore is read-only');
      for (const r of ranges) this.checkRange(r.offset, r.length);
      await this.backstore.discard(ranges, opts.durable === true);
    });
  }

  /** Allocation of the backstore at `offset`; a backstore that cannot tell reports everything mapped. */
  allocationRun(offset: number): Promise<AllocationRun> {
    return this.track('allocation', offset, 0, async () => {
      this.refuseIfOffline();
      this.checkRange(offset, 0);
      if (!this.backstore.allocationRun) return { mapped: true, end: this.size };
      return this.backstore.allocationRun(offset);
    });
  }

  /**
   * Online resize of the backstore. `size` is not cached here: every later range check sees the new
   * capacity. Rejects with the backstore's BackstoreError (e.g. a refused shrink); nothing changes then.
   */
  resize(to: ResizeRequest): Promise<number> {
    const run = async (): Promise<number> => {
      if (this.closing) throw new BackstoreError('ECLOSED', 'block queue is closed');
      if (!this.backstore.resize) throw new BackstoreError('EINVAL', `a ${this.backstore.kind} backstore cannot be resized`);
      return this.backstore.resize(to);
    };
    const p = this.resizing.then(run, run);
    this.resizing = p.catch(() => undefined);
    return p;
  }

  /** Waits for requests under way, then closes the backstore. Later requests fail with IO_ERROR. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.active]);
      try {
        await this.backstore.close();
      } catch (err) {
        // The last fdatasync failing loses data as surely as any other: it is logged and counted too.
        if (err instanceof BackstoreError && err.code !== 'ECLOSED') this.backstoreFailed(err, 'close', undefined, undefined);
        throw toBlockError(err);
      }
    })();
    return this.closing;
  }

  /**
   * Aligned backstore, read small enough: reserve all its pages in one step
   * (all or nothing), read straight into them and hand them out as the data.
   */
  private async readIntoPoolPages(offset: number, length: number, pages: Buffer[], signal?: CancelSignal): Promise<BlockReadResult> {
    const count = pages.length;
    try {
      const pageSize = this.pool.pageSize;
      const data = new SgVector(pages.map((p, i) => (i === count - 1 ? p.subarray(0, length - i * pageSize) : p)));
      const plan = mapSg(data, offset, this.limits, { ...this.mapOptions, tinySegmentBytes: 0 });
      // Pool pages are aligned, so nothing may bounce here: a bounce would need more pages while holding these.
      if (plan.bounceBytes > 0) throw new Error('BlockQueue: pool pages unexpectedly need bounce');
      await this.run(plan, 'read', false, signal);
      let released = false;
      return {
        data,
        release: () => {
          if (released) return;
          released = true;
          this.pool.free(pages);
        },
      };
    } catch (err) {
      this.pool.free(pages);
      throw err;
    }
  }

  /** One allocation, many views; on an aligned backstore each bio reads via bounce pages and is copied back. */
  private async readIntoFreshBuffer(offset: number, length: number, signal?: CancelSignal): Promise<BlockReadResult> {
    // Small reads come from Node's shared slab (allocUnsafe); large ones get their own memory.
    const data = new SgVector([length < POOLED_READ_MIN_BYTES ? Buffer.allocUnsafe(length) : Buffer.allocUnsafeSlow(length)]);
    await this.run(mapSg(data, offset, this.limits, this.mapOptions), 'read', false, signal);
    return { data, release: noop };
  }

  /** Submit the plan's bios in order; on failure stop submitting, let the in-flight ones settle, reject with the first error. */
  private async run(plan: SgMapPlan, dir: Direction, durable: boolean, signal?: CancelSignal): Promise<void> {
    const inFlight: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown): void => {
      failure ??= { error };
    };

    for (const planned of plan.bios) {
      if (failure) break;
      if (signal?.aborted) {
        fail(new BlockError('ABORTED', 'request aborted'));
        break;
      }
      let pages: Buffer[] = [];
      if (planned.bouncePages > 0) {
        // Every earlier bio of this request is in flight or done: waiting here holds nothing back.
        try {
          pages = await this.allocPages(planned.bouncePages, signal);
        } catch (err) {
          fail(err);
          break;
        }
      }
      if (!this.slots.tryAcquire()) await this.slots.acquire();
      if (failure) {
        this.slots.release();
        if (pages.length > 0) this.pool.free(pages);
        break;
      }
      inFlight.push(this.submit(planned, pages, dir, durable).catch(fail));
    }

    await Promise.all(inFlight);
    recordBiosPerRequest(this.stats, inFlight.length);
    if (failure) throw failure.error;
  }

  /** One bio: bounce in, I/O, bounce out; its slot and pages are given back however it ends. */
  private async submit(planned: PlannedBio, pages: Buffer[], dir: Direction, durable: boolean): Promise<void> {
    const s = this.stats;
    s.inflightBios++;
    if (s.inflightBios > s.inflightHighWater) s.inflightHighWater = s.inflightBios;
    try {
      const prepared = prepareBio(planned, pages, this.pool.pageSize);
      if (dir === 'write') {
        bounceIn(prepared);
        await this.backstore.writev(prepared.bio, durable);
      } else {
        await this.backstore.readv(prepared.bio);
        bounceOut(prepared);
      }
      s.bios++;
      s.bouncedBytes += planned.bounceBytes;
      s.directBytes += planned.length - planned.bounceBytes;
    } finally {
      s.inflightBios--;
      this.slots.release();
      if (pages.length > 0) this.pool.free(pages);
    }
  }

  private allocPages(n: number, signal?: CancelSignal): Promise<Buffer[]> {
    const now = this.pool.tryAlloc(n);
    if (now) return Promise.resolve(now);
    this.stats.poolWaits++;
    return this.pool.alloc(n, { timeoutMs: this.poolWaitMs, ...(signal ? { signal } : {}) });
  }

  private checkRange(offset: number, length: number): void {
    const { alignment } = this.limits;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new BlockError('OUT_OF_RANGE', `bad range ${offset}+${length}`);
    }
    if (offset + length > this.size) {
      throw new BlockError('OUT_OF_RANGE', `range ${offset}+${length} beyond capacity ${this.size}`);
    }
    if (offset % alignment !== 0 || length % alignment !== 0) {
      throw new BlockError('OUT_OF_RANGE', `range ${offset}+${length} not aligned to ${alignment}`);
    }
  }

  /** Operator intervention (a reload): SYNCHRONIZE CACHE and FUA writes are trusted again. True when they were refused. */
  clearWritebackFailure(): boolean {
    return this.health.clearWritebackFailure();
  }

  private refuseIfOffline(): void {
    const f = this.health.offline;
    if (f) throw new BlockError('OFFLINE', `offline since ${f.since.toISOString()}: ${f.message}`);
  }

  /**
   * After a failed fdatasync the kernel may have dropped the dirty pages; a later fdatasync that
   * succeeds proves nothing about them, so no durability is promised until an operator acts.
   */
  private refuseIfWritebackFailed(): void {
    const f = this.health.writebackFailed;
    if (f) throw new BlockError('IO_ERROR', `write-back failed at ${f.since.toISOString()} (${f.message}); durable writes refused until a reload or restart`);
  }

  /** Count and log a backstore error; keep the faults that outlast the request. */
  private backstoreFailed(err: BackstoreError, op: string, offset: number | undefined, length: number | undefined): void {
    const cause = faultCauseOf(err);
    this.health.report({
      cause,
      op,
      ...(offset !== undefined && length !== undefined ? { offset, length } : {}),
      errno: err.errno,
      message: err.message,
    });
    if (cause === 'truncated' || cause === 'unlinked') this.health.takeOffline(cause, err.message);
    else if (cause === 'flush') this.health.failWriteback(cause, err.message);
    else if (cause === 'shrunk') this.health.capacityChanged();
  }

  /** Run a request, turning every failure into a counted BlockError, and remember it so close() can wait. */
  private track<T>(op: Operation, offset: number | undefined, length: number | undefined, fn: () => Promise<T>): Promise<T> {
    const p = (async () => {
      if (this.closing) throw new BlockError('IO_ERROR', 'block queue is closed');
      try {
        return await fn();
      } catch (err) {
        // A closed backstore is the LU going away, not a fault of the medium.
        if (err instanceof BackstoreError && err.code !== 'ECLOSED') this.backstoreFailed(err, op, offset, length);
        const e = toBlockError(err);
        this.stats.failures[e.code]++;
        throw e;
      }
    })();
    this.active.add(p);
    const forget = (): void => {
      this.active.delete(p);
    };
    p.then(forget, forget);
    return p;
  }
}
