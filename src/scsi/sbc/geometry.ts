import type { LogicalUnit } from '../logical-unit.js';

/** Page-cache granularity: what a file-backed LU does without read-modify-write in the host. */
const DEFAULT_MIN_IO_BYTES = 4096;

/** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (READ CAPACITY(16) byte 13, 4 bits): log2(physical / logical). */
export function logicalPerPhysicalExponent(lu: LogicalUnit): number {
  return Math.log2(lu.physicalBlockSize / lu.blockSize) & 0x0f;
}

/**
 * OPTIMAL TRANSFER LENGTH GRANULARITY (VPD B0h), in logical blocks: the device's minimum I/O
 * (Linux io_min) where it reports one, else a page; never less than a physical block. Linux's sd
 * turns it back into the initiator's io_min.
 */
export function optimalTransferGranularity(lu: LogicalUnit): number {
  const bytes = Math.max(lu.device.minIoSize ?? DEFAULT_MIN_IO_BYTES, lu.physicalBlockSize);
  return Math.min(0xffff, Math.max(1, Math.ceil(bytes / lu.blockSize)));
}
