import { XcopyLimits, IMPLEMENTED_DESCRIPTOR_TYPES } from './xcopy-limits.js';
import type { CopyRecord } from './xcopy-status.js';

const MIB = 1024 * 1024;

/** COPY STATUS parameter data (SPC-4): 12 bytes; TRANSFER COUNT in bytes, or MiB when it would not fit. */
export function copyStatusData(r: CopyRecord): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(8, 0); // AVAILABLE DATA
  b[4] = r.state & 0x7f; // HDD = 0: no held data
  b.writeUInt16BE(Math.min(r.segmentsProcessed, 0xffff), 5);
  const inMib = r.bytesCopied > 0xffffffff;
  b[7] = inMib ? 0x02 : 0x00; // TRANSFER COUNT UNITS: 00h bytes, 02h 2^20 bytes
  b.writeUInt32BE(inMib ? Math.floor(r.bytesCopied / MIB) : r.bytesCopied, 8);
  return b;
}

/** OPERATING PARAMETERS parameter data (SPC-4): the limits of xcopy-limits.ts, no inline or held data. */
export function operatingParametersData(): Buffer {
  const types = IMPLEMENTED_DESCRIPTOR_TYPES;
  const b = Buffer.alloc(44 + types.length);
  b.writeUInt32BE(b.length - 4, 0); // AVAILABLE DATA
  b[4] = 0x01; // SNLID: LIST ID USAGE 11b (no list identifier) is supported
  b.writeUInt16BE(XcopyLimits.maxTargetDescriptors, 8);
  b.writeUInt16BE(XcopyLimits.maxSegmentDescriptors, 10);
  b.writeUInt32BE(XcopyLimits.maxDescriptorListLength, 12);
  b.writeUInt32BE(XcopyLimits.maxSegmentBytes, 16);
  // MAXIMUM INLINE DATA LENGTH, HELD DATA LIMIT, MAXIMUM STREAM DEVICE TRANSFER SIZE: 0.
  b.writeUInt16BE(XcopyLimits.maxConcurrentCopies, 34); // TOTAL CONCURRENT COPIES
  b[36] = XcopyLimits.maxConcurrentCopies; // MAXIMUM CONCURRENT COPIES
  b[37] = 9; // DATA SEGMENT GRANULARITY: 2^9 bytes
  b[43] = types.length; // IMPLEMENTED DESCRIPTOR LIST LENGTH
  types.forEach((t, i) => (b[44 + i] = t));
  return b;
}
