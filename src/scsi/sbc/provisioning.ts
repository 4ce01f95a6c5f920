import { blockFailure } from '../block-failure.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, type Outcome } from '../outcome.js';
import { withRange } from '../range-lock.js';

/** Limits reported in VPD B0h and enforced by WRITE SAME and UNMAP. */
export const ProvisioningLimits = {
  /** MAXIMUM WRITE SAME LENGTH (blocks): bounds the data a WRITE SAME without UNMAP writes. */
  maxWriteSameBytes: 32 * 1024 * 1024,
  /** MAXIMUM UNMAP LBA COUNT: blocks per UNMAP command (punching holes is cheap). */
  maxUnmapBlocks: 0x100000,
  /** MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT. */
  maxUnmapDescriptors: 256,
  /** OPTIMAL UNMAP GRANULARITY in bytes where the device does not say (a file system page). */
  unmapGranularityBytes: 4096,
} as const;

/**
 * Below 65536 blocks: libiscsi's WriteSame16.Unmap then skips a 65536-block WRITE(16) that would
 * exceed our MAXIMUM TRANSFER LENGTH.
 */
export function maxWriteSameBlocks(lu: LogicalUnit): number {
  return Math.max(1, Math.min(0xffff, Math.floor(ProvisioningLimits.maxWriteSameBytes / lu.blockSize)));
}

/** OPTIMAL UNMAP GRANULARITY (blocks): the device's discard granularity (sysfs), else a page. */
export function unmapGranularityBlocks(lu: LogicalUnit): number {
  const bytes = lu.device.discardLimits?.granularity ?? ProvisioningLimits.unmapGranularityBytes;
  return Math.min(0x7fffffff, Math.max(1, Math.floor(bytes / lu.blockSize)));
}

/**
 * UNMAP GRANULARITY ALIGNMENT (blocks) where the device reports a discard alignment (UGAVALID),
 * undefined elsewhere: the first granule starts at this LBA modulo the granularity.
 */
export function unmapGranularityAlignment(lu: LogicalUnit): number | undefined {
  const limits = lu.device.discardLimits;
  if (!limits) return undefined;
  return Math.floor(limits.alignment / lu.blockSize) % unmapGranularityBlocks(lu);
}

/**
 * MAXIMUM UNMAP LBA COUNT: what one UNMAP may deallocate, no more than the device takes in one
 * discard (queue/discard_max_bytes) where it says.
 */
export function maxUnmapBlocks(lu: LogicalUnit): number {
  const deviceMax = lu.device.discardLimits?.maxBytes;
  const deviceBlocks = deviceMax ? Math.floor(deviceMax / lu.blockSize) : Number.POSITIVE_INFINITY;
  return Math.max(1, Math.min(ProvisioningLimits.maxUnmapBlocks, deviceBlocks));
}

/** Deallocate whole-block ranges; with the write cache off (WCE = 0) durably, like a write (see writeBlocks). */
export async function deallocate(lu: LogicalUnit, ranges: readonly { lba: number; blocks: number }[]): Promise<Outcome> {
  const discard = lu.device.discard?.bind(lu.device);
  const wanted = ranges.filter((r) => r.blocks > 0);
  if (!discard || wanted.length === 0) return GOOD;
  // Deallocation is a write: it must not land inside a COMPARE AND WRITE / ORWRITE (see range-lock.ts).
  // One shared lock over the span of all ranges: taking several one by one could deadlock.
  const first = Math.min(...wanted.map((r) => r.lba));
  const end = Math.max(...wanted.map((r) => r.lba + r.blocks));
  return withRange(lu.rangeLock, first, end - first, false, async (): Promise<Outcome> => {
    try {
      await discard(
        wanted.map((r) => ({ offset: r.lba * lu.blockSize, length: r.blocks * lu.blockSize })),
        { durable: !lu.writeCacheEnabled },
      );
      return GOOD;
    } catch (err) {
      return blockFailure(err, 'write', wanted[0]!.lba);
    }
  });
}
