/** Small readers shared by the CDB decoders, and writers shared by the parameter data builders. */

import { Sense, type SenseReason } from './sense-reasons.js';

/** NACA in the CONTROL byte asks for ACA, which this target does not offer (SAM-5). */
export function checkControlByte(cdb: Buffer, cdbLength: number): SenseReason | undefined {
  return (cdb[cdbLength - 1] ?? 0) & 0x04 ? Sense.invalidFieldInCdb(cdbLength - 1, 2) : undefined;
}

/** Parameter data cut to the ALLOCATION LENGTH (SPC-4): a view, never a copy. */
export function truncateToAllocation(data: Buffer, allocationLength: number): Buffer {
  return allocationLength >= data.length ? data : data.subarray(0, allocationLength);
}

/** A 64-bit big-endian LBA as a number; values past 2^53 become Infinity, which is beyond every capacity. */
export function readLba64(cdb: Buffer, offset: number): number {
  const hi = cdb.readUInt32BE(offset);
  if (hi >= 0x200000) return Number.POSITIVE_INFINITY;
  return hi * 0x1_0000_0000 + cdb.readUInt32BE(offset + 4);
}

/** SBC-3: the range [lba, lba + blocks) must lie within the capacity (zero blocks at the end is fine). */
export function isBeyondCapacity(lba: number, blocks: number, numBlocks: number): boolean {
  return lba > numBlocks || blocks > numBlocks - lba;
}

/**
 * A page of parameter data: a 16-bit code (VPD: 0 then the page code, to which INQUIRY adds the
 * peripheral byte; log page: page and subpage code; third-party copy descriptor: its type), the
 * 16-bit length of the body, the body.
 */
export function codedPage(code: number, body: Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b.writeUInt16BE(code, 0);
  b.writeUInt16BE(body.length, 2);
  body.copy(b, 4);
  return b;
}

/** Fixed-width ASCII field, space padded (SPC-4: only 20h-7Eh). */
export function asciiField(value: string, width: number): Buffer {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return Buffer.from(printable.padEnd(width, ' ').slice(0, width), 'ascii');
}
