import type { AllocationRun, Backstore, DiscardLimits, DiscardRange, ResizeRequest } from './backstore.js';
import { BackstoreError } from './backstore-error.js';
import { BioRunner, type Direction } from './bio-runner.js';
import type { CancelSignal } from './cancel.js';
import { BlockError, type BlockDevice, type BlockReadResult } from './device.js';
import { toBlockError } from './errors.js';
import { DeviceHealth } from './health.js';
import type { QueueLimits } from './limits.js';
import { mapSg, type MapSgOptions } from './map-sg.js';
import type { Mempool } from './mempool.js';
import { SgVector } from './sg.js';
import { BufferSlab } from './slab.js';
import { createBlockStats, type BlockStats } from './stats.js';

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
const SLAB_BYTES = 256 * 1024;

type Operation = Direction | 'flush' | 'discard' | 'allocation';
const noop = (): void => {};

/**
 * The block layer over one backstore: checks each request against the capacity and the device's
 * state (DeviceHealth), maps SG vectors to bios (mapSg), bounces what the backstore cannot take as
 * is through the shared Mempool, and submits them with forward progress (bio-runner.ts). Every
 * failure becomes a counted BlockError; close() waits for the requests under way.
 */
export class BlockQueue implements BlockDevice {
  readonly stats: BlockStats = createBlockStats();
  readonly limits: QueueLimits;
  /** Faults of the backstore: an offline medium, a failed write-back (see DeviceHealth). */
  readonly health: DeviceHealth;
  private readonly bios: BioRunner;
  private readonly mapOptions: MapSgOptions;
  private readonly maxPagesPerRequestBio: number;
  /** mapSg options for reads into pool pages: nothing there is tiny enough to merge. */
  private readonly poolPageMapOptions: MapSgOptions;
  /** Requests under way, and what close() waits on once they are all done. */
  private inflight = 0;
  private idle: (() => void) | undefined;
  private readonly slab = new BufferSlab(SLAB_BYTES);
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
    this.health = opts.health ?? new DeviceHealth();
    this.bios = new BioRunner(backstore, pool, this.stats, { maxInflightBios, poolWaitMs: opts.poolWaitMs ?? DEFAULT_POOL_WAIT_MS });
    this.maxPagesPerRequestBio = Math.min(pool.capacity, opts.maxBouncePagesPerBio ?? Math.max(1, Math.floor(pool.capacity / 2)));
    this.mapOptions = {
      pageSize: pool.pageSize,
      maxBouncePages: this.maxPagesPerRequestBio,
      ...(opts.tinySegmentBytes !== undefined ? { tinySegmentBytes: opts.tinySegmentBytes } : {}),
    };
    this.poolPageMapOptions = { ...this.mapOptions, tinySegmentBytes: 0 };
  }

  get memoryAlignment(): number {
    return this.limits.alignment;
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
    return this.track('write', offset, data.length, () => this.startWrite(offset, data, opts.fua, opts.signal));
  }

  /** The write's bios (no async frame of its own: this runs for every WRITE). */
  private startWrite(offset: number, data: SgVector, fua: boolean, signal: CancelSignal | undefined): Promise<void> {
    this.health.refuseIfOffline();
    if (this.backstore.readOnly) throw new BlockError('READ_ONLY', 'backstore is read-only');
    this.checkRange(offset, data.length);
    if (fua) this.health.refuseIfWritebackFailed();
    if (data.length === 0) return Promise.resolve();
    const plan = mapSg(data, offset, this.limits, this.mapOptions);
    // One durable bio is cheapest as a durable write; several are written and then flushed once.
    const several = plan.bios.length > 1;
    const written = this.bios.run(plan, 'write', fua && !several, signal);
    return (fua && several ? written.then(() => this.backstore.flush()) : written).then(() => {
      this.stats.writtenBytes += data.length;
    });
  }

  read(offset: number, length: number, opts: { signal?: CancelSignal } = {}): Promise<BlockReadResult> {
    this.stats.readRequests++;
    return this.track('read', offset, length, () => this.startRead(offset, length, opts.signal));
  }

  /** The read's memory and bios (no async frame of its own: this runs for every READ). */
  private startRead(offset: number, length: number, signal: CancelSignal | undefined): Promise<BlockReadResult> {
    this.health.refuseIfOffline();
    this.checkRange(offset, length);
    if (length === 0) return Promise.resolve({ data: new SgVector(), release: noop });
    const pages = Math.ceil(length / this.pool.pageSize);
    let result: Promise<BlockReadResult>;
    if (this.limits.alignment > 1 && pages <= this.maxPagesPerRequestBio) {
      result = this.bios.allocPages(pages, signal).then((held) => this.readIntoPoolPages(offset, length, held, signal));
    } else if (length >= POOLED_READ_MIN_BYTES && pages <= this.maxPagesPerRequestBio) {
      // Large buffered reads land in preallocated pool pages when some are free right now
      // (never waiting: a fresh buffer is the fallback), sparing malloc/mmap and GC per read.
      const free = this.pool.tryAlloc(pages);
      result = free ? this.readIntoPoolPages(offset, length, free, signal) : this.readIntoFreshBuffer(offset, length, signal);
    } else {
      result = this.readIntoFreshBuffer(offset, length, signal);
    }
    return result.then((r) => {
      this.stats.readBytes += length;
      return r;
    });
  }

  flush(): Promise<void> {
    this.stats.flushes++;
    return this.track('flush', undefined, undefined, async () => {
      this.health.refuseIfOffline();
      this.health.refuseIfWritebackFailed();
      await this.backstore.flush();
    });
  }

  /** Pass UNMAP / WRITE SAME(unmap) ranges to the backstore after a range check. */
  discard(ranges: readonly DiscardRange[], opts: { durable?: boolean } = {}): Promise<void> {
    return this.track('discard', undefined, undefined, async () => {
      this.health.refuseIfOffline();
      if (this.backstore.readOnly) throw new BlockError('READ_ONLY', 'backstore is read-only');
      for (const r of ranges) this.checkRange(r.offset, r.length);
      await this.backstore.discard(ranges, opts.durable === true);
    });
  }

  /** Allocation of the backstore at `offset`; a backstore that cannot tell reports everything mapped. */
  allocationRun(offset: number): Promise<AllocationRun> {
    return this.track('allocation', offset, 0, async () => {
      this.health.refuseIfOffline();
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
      if (this.inflight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
      try {
        await this.backstore.close();
      } catch (err) {
        // The last fdatasync failing loses data as surely as any other: it is logged and counted too.
        if (err instanceof BackstoreError && err.code !== 'ECLOSED') this.health.backstoreFailed(err, 'close');
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
      const plan = mapSg(data, offset, this.limits, this.poolPageMapOptions);
      // Pool pages are aligned, so nothing may bounce here: a bounce would need more pages while holding these.
      if (plan.bounceBytes > 0) throw new Error('BlockQueue: pool pages unexpectedly need bounce');
      await this.bios.run(plan, 'read', false, signal);
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
  private readIntoFreshBuffer(offset: number, length: number, signal?: CancelSignal): Promise<BlockReadResult> {
    // Small reads are carved from a shared slab (no ArrayBuffer, hence no GC bookkeeping, per read); large ones get their own memory.
    const data = new SgVector([length < POOLED_READ_MIN_BYTES ? this.slab.take(length) : Buffer.allocUnsafeSlow(length)]);
    return this.bios.run(mapSg(data, offset, this.limits, this.mapOptions), 'read', false, signal).then(() => ({ data, release: noop }));
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

  /** Run a request, turning every failure into a counted BlockError, and count it under way so close() can wait. */
  private track<T>(op: Operation, offset: number | undefined, length: number | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new BlockError('IO_ERROR', 'block queue is closed'));
    this.inflight++;
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      p = Promise.reject(err as Error);
    }
    return p.then(
      (value) => {
        this.settled();
        return value;
      },
      (err: unknown) => {
        this.settled();
        // A closed backstore is the LU going away, not a fault of the medium.
        if (err instanceof BackstoreError && err.code !== 'ECLOSED') this.health.backstoreFailed(err, op, range(offset, length));
        const e = toBlockError(err);
        this.stats.failures[e.code]++;
        throw e;
      },
    );
  }

  private settled(): void {
    if (--this.inflight === 0 && this.idle) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }
}

function range(offset: number | undefined, length: number | undefined): { offset: number; length: number } | undefined {
  return offset !== undefined && length !== undefined ? { offset, length } : undefined;
}
