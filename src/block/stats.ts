import type { BlockErrorCode } from './device.js';

/** Upper bounds of the bios-per-request histogram buckets; a last, implicit bucket is +Inf. */
export const BIOS_PER_REQUEST_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024];

/**
 * Counters of one BlockQueue, plain numbers the metrics module reads at scrape
 * time (the data path never imports prom-client). Pool counters live in
 * `Mempool.stats`.
 */
export interface BlockStats {
  readRequests: number;
  writeRequests: number;
  flushes: number;
  readBytes: number;
  writtenBytes: number;
  /** Bios completed successfully. */
  bios: number;
  /** Bios submitted to the backstore per request: non-cumulative `counts[i]` for <= BUCKETS[i], last = +Inf. */
  biosPerRequest: { counts: number[]; sum: number; count: number };
  /** Bytes moved straight from/to the caller's (or handed-out pool) memory. */
  directBytes: number;
  /** Bytes copied through bounce pages. */
  bouncedBytes: number;
  /** Pool allocations of this queue that had to wait. */
  poolWaits: number;
  inflightBios: number;
  inflightHighWater: number;
  /** Requests that failed, by BlockError code. */
  failures: Record<BlockErrorCode, number>;
}

export function createBlockStats(): BlockStats {
  return {
    readRequests: 0,
    writeRequests: 0,
    flushes: 0,
    readBytes: 0,
    writtenBytes: 0,
    bios: 0,
    biosPerRequest: { counts: new Array<number>(BIOS_PER_REQUEST_BUCKETS.length + 1).fill(0), sum: 0, count: 0 },
    directBytes: 0,
    bouncedBytes: 0,
    poolWaits: 0,
    inflightBios: 0,
    inflightHighWater: 0,
    failures: { POOL_EXHAUSTED: 0, IO_ERROR: 0, NO_SPACE: 0, READ_ONLY: 0, OUT_OF_RANGE: 0, ABORTED: 0, OFFLINE: 0 },
  };
}

export function recordBiosPerRequest(stats: BlockStats, bios: number): void {
  let bucket = BIOS_PER_REQUEST_BUCKETS.findIndex((upper) => bios <= upper);
  if (bucket < 0) bucket = BIOS_PER_REQUEST_BUCKETS.length;
  const h = stats.biosPerRequest;
  h.counts[bucket] = (h.counts[bucket] ?? 0) + 1;
  h.sum += bios;
  h.count++;
}
