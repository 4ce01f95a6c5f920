import type { Bio } from '../block/bio.js';
import type { QueueLimits } from '../block/limits.js';

export interface DiscardRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * What every backstore offers the block layer. Every method that does I/O
 * rejects with a `BackstoreError` (never anything else) so that the SCSI core
 * can map it to sense data.
 */
export interface Backstore {
  readonly kind: 'file' | 'null' | 'block';
  /** Capacity in bytes (a multiple of blockSize). */
  readonly size: number;
  readonly blockSize: number;
  readonly limits: QueueLimits;
  readonly readOnly: boolean;
  /** Fill the bio's segments from the device. Bytes past EOF of a sparse file read as zeros. */
  readv(bio: Bio): Promise<void>;
  /** Write the bio's segments; `durable` asks for the data to be on stable storage before resolving (FUA / WCE=0). */
  writev(bio: Bio, durable: boolean): Promise<void>;
  /** Make every completed write durable (SYNCHRONIZE CACHE). */
  flush(): Promise<void>;
  discard(ranges: readonly DiscardRange[]): Promise<void>;
  /** The allocation run containing `offset`: mapped (data) or not (a hole, reads as zeros), and where it ends. */
  allocationRun?(offset: number): Promise<AllocationRun>;
  close(): Promise<void>;
}

export interface AllocationRun {
  readonly mapped: boolean;
  /** Byte offset where the run ends (at most the capacity). */
  readonly end: number;
}

export type BackstoreErrorCode = 'EIO' | 'ENOSPC' | 'EROFS' | 'EINVAL' | 'ECLOSED';

export class BackstoreError extends Error {
  constructor(
    readonly code: BackstoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackstoreError';
  }
}
