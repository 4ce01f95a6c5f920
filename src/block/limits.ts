/** What one backstore accepts in a single vectored syscall (the analogue of struct queue_limits). */
export interface QueueLimits {
  /** Logical block size in bytes (512 or 4096). */
  readonly logicalBlockSize: number;
  /** Largest number of bytes in one bio. */
  readonly maxBioBytes: number;
  /** Largest number of segments (iovecs) in one bio; IOV_MAX is 1024. */
  readonly maxSegments: number;
  /**
   * Required alignment of each segment's memory address, each segment's length and
   * each bio's device offset (O_DIRECT needs the logical block size). 1 = none.
   */
  readonly alignment: number;
  /** Largest number of bios in flight at once on this backstore. */
  readonly maxInflightBios: number;
}

export const IOV_MAX = 1024;

export function defaultLimits(logicalBlockSize: number): QueueLimits {
  return {
    logicalBlockSize,
    maxBioBytes: 8 * 1024 * 1024,
    maxSegments: IOV_MAX,
    alignment: 1,
    maxInflightBios: 64,
  };
}
