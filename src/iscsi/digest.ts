import { crc32c } from '@node-rs/crc32';

/** CRC32C over a list of buffers (SIMD native); `seed` continues an earlier value. */
export function crc32cOf(parts: readonly Buffer[], seed = 0): number {
  let crc = seed;
  for (const p of parts) if (p.length > 0) crc = crc32c(p, crc);
  return crc >>> 0;
}

/** iSCSI carries the CRC32C value least significant byte first (as Linux and libiscsi do). */
export function digestBytes(crc: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(crc >>> 0, 0);
  return b;
}

export function readDigest(b: Buffer, offset = 0): number {
  return b.readUInt32LE(offset);
}

const PADS = [Buffer.alloc(0), Buffer.alloc(3), Buffer.alloc(2), Buffer.alloc(1)];

/** The zero padding that rounds `length` up to a multiple of 4 (shared, read-only). */
export function padFor(length: number): Buffer {
  return PADS[length & 3]!;
}
