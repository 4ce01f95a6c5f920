/**
 * iSCSI wire bytes built by the tests themselves, independent of src/iscsi (its framer, serializer
 * and digest module are what these bytes test): hex rows as RFC 7143's §11 diagrams draw them, a
 * bit-by-bit CRC32C, and the assembly of one PDU (RFC 7143 §11.2: BHS, AHS, header digest, data
 * segment padded to 4 bytes, data digest).
 */

/** Bytes from hex text; whitespace (the 4-byte rows of the RFC diagrams) is ignored. */
export function hex(...rows: string[]): Buffer {
  const text = rows.join('').replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(text)) throw new Error(`not hex bytes: ${text}`);
  return Buffer.from(text, 'hex');
}

/** A BHS written as its twelve 4-byte rows. */
export function bhsRows(...rows: string[]): Buffer {
  if (rows.length !== 12) throw new Error(`a BHS has 12 rows of 4 bytes, got ${rows.length}`);
  const b = hex(...rows);
  if (b.length !== 48) throw new Error(`a BHS has 48 bytes, got ${b.length}`);
  return b;
}

/** The 4-byte rows of `b` in hex, for comparisons whose failures point at the row (= RFC word) that differs. */
export function rowsOf(b: Buffer): string[] {
  const rows: string[] = [];
  for (let at = 0; at < b.length; at += 4) rows.push(b.subarray(at, at + 4).toString('hex'));
  return rows;
}

/**
 * CRC32C (Castagnoli; RFC 3720 §12.1, RFC 7143 §13.1), one bit at a time: reflected polynomial
 * 0x82F63B78, initial value and final XOR 0xFFFFFFFF. Slow and obviously the definition.
 */
export function crc32cReference(...parts: Buffer[]): number {
  let crc = 0xffffffff;
  for (const part of parts) {
    for (const byte of part) {
      crc ^= byte;
      for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * A digest as it travels: RFC 3720 Appendix B.4 lists the CRC of 32 zero bytes (0x8A9136AA) as the
 * bytes "aa 36 91 8a", least significant byte first.
 */
export function digestOnWire(crc: number): Buffer {
  return Buffer.from([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, (crc >>> 24) & 0xff]);
}

export interface WirePdu {
  bhs: Buffer;
  ahs?: Buffer;
  data?: Buffer;
}

export interface WireDigests {
  headerDigest: boolean;
  dataDigest: boolean;
}

/** One PDU on the wire. The header digest covers BHS and AHS; the data digest covers data and padding and is present only with data. */
export function wireBytes(pdu: WirePdu, digests: WireDigests): Buffer {
  const ahs = pdu.ahs ?? Buffer.alloc(0);
  const data = pdu.data ?? Buffer.alloc(0);
  const pad = Buffer.alloc((4 - (data.length % 4)) % 4);
  const parts = [pdu.bhs, ahs];
  if (digests.headerDigest) parts.push(digestOnWire(crc32cReference(pdu.bhs, ahs)));
  if (data.length > 0) {
    parts.push(data, pad);
    if (digests.dataDigest) parts.push(digestOnWire(crc32cReference(data, pad)));
  }
  return Buffer.concat(parts);
}

/**
 * A BHS with the framing fields set as given (opcode byte, TotalAHSLength from the AHS, the 24-bit
 * DataSegmentLength) and every other byte from `fill` (any bytes: the framer must not care).
 */
export function framingBhs(opcodeByte: number, ahsLength: number, dataLength: number, fill: Buffer): Buffer {
  if (ahsLength % 4 !== 0) throw new Error('an AHS is a whole number of 4-byte words');
  const b = Buffer.alloc(48);
  fill.copy(b, 0, 0, 48);
  b[0] = opcodeByte;
  b[4] = ahsLength / 4;
  b[5] = (dataLength >>> 16) & 0xff;
  b[6] = (dataLength >>> 8) & 0xff;
  b[7] = dataLength & 0xff;
  return b;
}
