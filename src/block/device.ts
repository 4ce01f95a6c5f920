import type { AllocationRun, DeviceGeometry, DiscardRange, ResizeRequest } from './backstore.js';
import type { CancelSignal } from './cancel.js';
import type { DeviceHealth } from './health.js';
import type { SgVector } from './sg.js';
import { ScatterError } from '../shared/errors.js';

/**
 * The block layer as the SCSI core sees it: byte-addressed reads and writes of
 * whole SG vectors. Implemented by `BlockQueue` (mapSg + bounce + mempool over a
 * backstore). Every failure rejects with a `BlockError`.
 */
export interface BlockDevice extends DeviceGeometry {
  /** Faults of the storage below (offline, failed write-back), error counts; absent = never faults. */
  readonly health?: DeviceHealth;
  /**
   * Address alignment write data must have to reach the device without a bounce copy (the logical
   * block size under O_DIRECT); absent or 1 = any memory goes straight through.
   */
  readonly memoryAlignment?: number;
  /**
   * Read `length` bytes at `offset`. The data's segments may be pool pages: call
   * `release()` exactly once when done with them (e.g. after the socket took them).
   */
  read(offset: number, length: number, opts?: { signal?: CancelSignal }): Promise<BlockReadResult>;
  /**
   * Write `data` at `offset`; `fua` = durable before resolving. The SCSI core sets it for FUA and
   * for every write while the caching mode page says WCE = 0: the block layer keeps no write-cache
   * state, it makes durable what it is asked to.
   */
  write(offset: number, data: SgVector, opts: { fua: boolean; signal?: CancelSignal }): Promise<void>;
  /** SYNCHRONIZE CACHE. */
  flush(): Promise<void>;
  /** Deallocate byte ranges (UNMAP, WRITE SAME with UNMAP); `durable` as `fua` for writes. Absent = the device cannot. */
  discard?(ranges: readonly DiscardRange[], opts?: { durable?: boolean }): Promise<void>;
  /** The allocation run containing `offset` (GET LBA STATUS); absent = everything is mapped. */
  allocationRun?(offset: number): Promise<AllocationRun>;
  /** Online resize; resolves to the new size (rejects with the backstore's error). Absent = fixed size. */
  resize?(to: ResizeRequest): Promise<number>;
  close(): Promise<void>;
}

/** Data read from a block device; `release` gives its pool pages back (a no-op for fresh buffers). */
export interface BlockReadResult {
  readonly data: SgVector;
  release(): void;
}

/**
 * POOL_EXHAUSTED: the bounce pool could not serve the request in time (SCSI: TASK SET FULL / BUSY).
 * IO_ERROR: the backstore failed (MEDIUM ERROR). NO_SPACE: ENOSPC (SPACE ALLOCATION FAILED WRITE PROTECT).
 * READ_ONLY: write to a read-only backstore (WRITE PROTECTED). OUT_OF_RANGE: beyond capacity.
 * ABORTED: the request was cancelled via its CancelSignal. OFFLINE: the device is offline after a
 * fault (see DeviceHealth; SCSI: NOT READY, MANUAL INTERVENTION REQUIRED).
 */
export type BlockErrorCode = 'POOL_EXHAUSTED' | 'IO_ERROR' | 'NO_SPACE' | 'READ_ONLY' | 'OUT_OF_RANGE' | 'ABORTED' | 'OFFLINE';

export class BlockError extends ScatterError<BlockErrorCode> {}
