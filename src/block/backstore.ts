/**
 * The device contract of the block layer: what a backstore (a driver: file, block device, null)
 * implements for BlockQueue, and the ranges it deals in. The block layer defines it; backstore/
 * implements it, so the arrow only ever points from backstore to block.
 */
import type { Bio } from './bio.js';
import type { QueueLimits } from './limits.js';

export interface DiscardRange {
  readonly offset: number;
  readonly length: number;
}

/** What deallocation can do on a device (Linux queue/discard_*), for VPD B0h / B2h. */
export interface DiscardLimits {
  /** Bytes per command the device takes at most (0: it cannot discard). */
  readonly maxBytes: number;
  /** Smallest unit the device deallocates, in bytes. */
  readonly granularity: number;
  /** Byte offset of the first granule from the start of the device. */
  readonly alignment: number;
  /** Deallocated blocks read as zeros (LBPRZ). */
  readonly zeroes: boolean;
}

/** Capacity and geometry of a device, as READ CAPACITY(16) and VPD B0h / B2h report them. */
export interface DeviceGeometry {
  /** Capacity in bytes (a multiple of blockSize). */
  readonly size: number;
  readonly blockSize: number;
  /** Physical block size in bytes, a power-of-two multiple of blockSize; absent = blockSize. */
  readonly physicalBlockSize?: number;
  /** First LBA that starts a physical block (READ CAPACITY(16) LOWEST ALIGNED LBA); absent = 0. */
  readonly lowestAlignedLba?: number;
  /** Smallest I/O in bytes the device does without a penalty (Linux io_min); absent = unknown. */
  readonly minIoSize?: number;
  /** Deallocation limits where the device reports them; absent = a file system's (see provisioning.ts). */
  readonly discardLimits?: DiscardLimits;
  readonly readOnly: boolean;
}

/**
 * What every backstore offers the block layer. Every method that does I/O
 * rejects with a `BackstoreError` (never anything else) so that the SCSI core
 * can map it to sense data.
 *
 * Durability is asked per request (`durable`): the SCSI core owns the caching mode page and turns
 * FUA or WCE = 0 into it; a backstore keeps no write-cache state of its own.
 */
export interface Backstore extends DeviceGeometry {
  readonly kind: 'file' | 'null' | 'block';
  readonly limits: QueueLimits;
  /** Discard deallocates, so the LU can offer thin provisioning (UNMAP, LBPME); false: the LU does not offer it. */
  readonly thin: boolean;
  /** What is written can be read back (false for the null backstore: an overwrite could not be verified). */
  readonly keepsData: boolean;
  /** Fill the bio's segments from the device. A hole of a sparse file reads as zeros; its end inside the capacity is a fault. */
  readv(bio: Bio): Promise<void>;
  /** Write the bio's segments; `durable` asks for the data to be on stable storage before resolving (FUA / WCE=0). */
  writev(bio: Bio, durable: boolean): Promise<void>;
  /** Make every completed write durable (SYNCHRONIZE CACHE). */
  flush(): Promise<void>;
  /** Deallocate the ranges (where `thin`); `durable`: on stable storage before resolving, like a write (WCE = 0). */
  discard(ranges: readonly DiscardRange[], durable?: boolean): Promise<void>;
  /** The allocation run containing `offset`: mapped (data) or not (a hole, reads as zeros), and where it ends. */
  allocationRun?(offset: number): Promise<AllocationRun>;
  /** Online resize (see ResizeRequest); resolves to the new size. Absent = the capacity is fixed. */
  resize?(to: ResizeRequest): Promise<number>;
  close(): Promise<void>;
}

/** What an online resize asks of a backstore. */
export interface ResizeRequest {
  /** New capacity in bytes (file, null). A block device ignores it and re-reads its own size. */
  readonly size?: number;
  /** A smaller capacity loses the blocks past the new end: refused unless this is set. */
  readonly allowShrink?: boolean;
}

export interface AllocationRun {
  readonly mapped: boolean;
  /** Byte offset where the run ends (at most the capacity). */
  readonly end: number;
}
