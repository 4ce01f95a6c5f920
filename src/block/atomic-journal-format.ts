import { crc32c } from '@node-rs/crc32';

/**
 * On-disk format of the atomic-write journal (see atomic-journal.ts for the protocol).
 *
 * The journal file is a row of fixed slots, one per atomic write in flight. A slot is a
 * RECORD_HEADER_BYTES header (so the data that follows stays block aligned) and room for
 * SLOT_DATA_BYTES of data. Header fields, little endian:
 *
 *   0  magic "SCATATW1" (8)     16 sequence (u64)     32 blocks (u32)
 *   8  block size (u32)         24 LBA (u64)          36 CRC32C (u32) of bytes 0-35 + the data
 *   12 reserved, 0 (u32)
 *
 * An empty (invalidated) slot has no magic. A slot with the magic whose CRC does not match its
 * data is torn: the crash hit while the record was being written, before any of it reached the LU.
 */
export const JOURNAL_MAGIC = Buffer.from('SCATATW1', 'ascii');
export const RECORD_HEADER_BYTES = 4096;
/** Room for one atomic write's data: 2048 blocks of 512 bytes, 256 of 4096. */
export const SLOT_DATA_BYTES = 1024 * 1024;
export const SLOT_BYTES = RECORD_HEADER_BYTES + SLOT_DATA_BYTES;
/** Bytes of the header that carry fields (the rest of it is zero); zeroing them invalidates a slot. */
export const HEADER_FIELD_BYTES = 40;
const CRC_AT = 36;

export interface RecordHeader {
  readonly seq: bigint;
  readonly lba: number;
  readonly blocks: number;
  readonly blockSize: number;
}

/** What a slot's header says before its data is checked. */
export type HeaderState =
  | { readonly kind: 'empty' }
  | { readonly kind: 'torn'; readonly why: string }
  | { readonly kind: 'header'; readonly header: RecordHeader; readonly crc: number };

function crcOf(fields: Uint8Array, data: readonly Uint8Array[]): number {
  let crc = crc32c(fields.subarray(0, CRC_AT));
  for (const part of data) crc = crc32c(part, crc);
  return crc;
}

/** The RECORD_HEADER_BYTES header of a record whose data is `data` (segments in order). */
export function encodeHeader(h: RecordHeader, data: readonly Uint8Array[]): Buffer {
  const length = data.reduce((n, d) => n + d.length, 0);
  if (length !== h.blocks * h.blockSize) throw new RangeError(`record data is ${length} bytes, header says ${h.blocks * h.blockSize}`);
  if (length > SLOT_DATA_BYTES) throw new RangeError(`record data ${length} exceeds a slot (${SLOT_DATA_BYTES})`);
  const b = Buffer.alloc(RECORD_HEADER_BYTES);
  JOURNAL_MAGIC.copy(b, 0);
  b.writeUInt32LE(h.blockSize, 8);
  b.writeBigUInt64LE(h.seq, 16);
  b.writeBigUInt64LE(BigInt(h.lba), 24);
  b.writeUInt32LE(h.blocks, 32);
  b.writeUInt32LE(crcOf(b, data), CRC_AT);
  return b;
}

/** Reads the fields of a slot header (at least HEADER_FIELD_BYTES long). */
export function decodeHeader(b: Buffer): HeaderState {
  if (b.length < HEADER_FIELD_BYTES || !b.subarray(0, JOURNAL_MAGIC.length).equals(JOURNAL_MAGIC)) return { kind: 'empty' };
  const blockSize = b.readUInt32LE(8);
  const blocks = b.readUInt32LE(32);
  const lba = b.readBigUInt64LE(24);
  // A header torn mid-write can hold any bytes after the magic: check them before trusting a length.
  if (blockSize === 0 || blocks === 0 || blocks * blockSize > SLOT_DATA_BYTES) return { kind: 'torn', why: 'bad length' };
  if (lba > BigInt(Number.MAX_SAFE_INTEGER)) return { kind: 'torn', why: 'bad LBA' };
  return {
    kind: 'header',
    header: { seq: b.readBigUInt64LE(16), lba: Number(lba), blocks, blockSize },
    crc: b.readUInt32LE(CRC_AT),
  };
}

/** True when `data` is exactly the data the header was written with. */
export function recordIntact(headerBytes: Buffer, state: { header: RecordHeader; crc: number }, data: Buffer): boolean {
  return data.length === state.header.blocks * state.header.blockSize && crcOf(headerBytes, [data]) === state.crc;
}
