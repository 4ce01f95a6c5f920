/**
 * The fuzzer's own wire layer, written apart from src/iscsi so that a bug in the target's
 * codec cannot hide itself: initiator BHS encoders with every field under the caller's
 * control, the bytes of a PDU (AHS, padding, digests, with deliberate damage on request),
 * and a reader for the target's PDUs that checks padding and digests itself.
 */
import { crc32c } from '@node-rs/crc32';

export const Opcode = {
  NOP_OUT: 0x00,
  SCSI_CMD: 0x01,
  TMF_REQ: 0x02,
  LOGIN_REQ: 0x03,
  TEXT_REQ: 0x04,
  DATA_OUT: 0x05,
  LOGOUT_REQ: 0x06,
  SNACK: 0x10,
  NOP_IN: 0x20,
  SCSI_RSP: 0x21,
  TMF_RSP: 0x22,
  LOGIN_RSP: 0x23,
  TEXT_RSP: 0x24,
  DATA_IN: 0x25,
  LOGOUT_RSP: 0x26,
  R2T: 0x31,
  ASYNC: 0x32,
  REJECT: 0x3f,
} as const;

export const NO_TAG = 0xffffffff;

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(Opcode).map(([k, v]) => [v, k]));
export const opcodeName = (op: number): string => NAMES[op] ?? `OP_0x${op.toString(16).padStart(2, '0')}`;

export const opOf = (bhs: Buffer): number => bhs[0]! & 0x3f;
export const dslOf = (bhs: Buffer): number => (bhs[5]! << 16) | (bhs[6]! << 8) | bhs[7]!;
export const ittOf = (bhs: Buffer): number => bhs.readUInt32BE(16);

/** SAM LUN encoding: peripheral (LUN < 256) or flat space (LUN < 16384). */
export function lunBytes(lun: number): Buffer {
  const b = Buffer.alloc(8);
  if (lun < 256) b[1] = lun;
  else {
    b[0] = 0x40 | ((lun >> 8) & 0x3f);
    b[1] = lun & 0xff;
  }
  return b;
}

export interface BhsFields {
  opcode: number;
  immediate?: boolean;
  /** Byte 1 (flags), bytes 2 and 3. */
  b1?: number;
  b2?: number;
  b3?: number;
  /** TotalAHSLength in 4-byte words; default: from the AHS given to `pduBytes`. */
  ahsWords?: number;
  dataLength?: number;
  /** Bytes 8-15: a LUN number or raw bytes (ISID + TSIH for login). */
  lun?: number | Buffer;
  itt?: number;
  /** Bytes 20-23 (TTT, CID + reserved, referenced task tag). */
  w20?: number;
  /** CmdSN (24-27), ExpStatSN (28-31), and 32-47 raw (CDB, RefCmdSN, DataSN, offset...). */
  w24?: number;
  w28?: number;
  tail?: Buffer;
}

export function bhs(f: BhsFields): Buffer {
  const b = Buffer.alloc(48);
  b[0] = (f.opcode & 0x3f) | (f.immediate ? 0x40 : 0);
  b[1] = f.b1 ?? 0;
  b[2] = f.b2 ?? 0;
  b[3] = f.b3 ?? 0;
  b[4] = f.ahsWords ?? 0;
  const dl = f.dataLength ?? 0;
  b[5] = (dl >> 16) & 0xff;
  b[6] = (dl >> 8) & 0xff;
  b[7] = dl & 0xff;
  if (f.lun !== undefined) (typeof f.lun === 'number' ? lunBytes(f.lun) : f.lun).copy(b, 8, 0, 8);
  b.writeUInt32BE((f.itt ?? 0) >>> 0, 16);
  b.writeUInt32BE((f.w20 ?? 0) >>> 0, 20);
  b.writeUInt32BE((f.w24 ?? 0) >>> 0, 24);
  b.writeUInt32BE((f.w28 ?? 0) >>> 0, 28);
  f.tail?.copy(b, 32, 0, Math.min(16, f.tail.length));
  return b;
}

// ------------------------------------------------------------------ typed encoders

export function scsiCommandBhs(f: {
  immediate: boolean;
  final: boolean;
  read: boolean;
  write: boolean;
  attr: number;
  lun: number | Buffer;
  itt: number;
  edtl: number;
  cmdSN: number;
  expStatSN: number;
  cdb: Buffer;
  dataLength: number;
  /** Byte 1 bits 3-4 are reserved; set them to test the target's tolerance. */
  reservedBits?: number;
}): Buffer {
  const b1 = (f.final ? 0x80 : 0) | (f.read ? 0x40 : 0) | (f.write ? 0x20 : 0) | ((f.reservedBits ?? 0) & 0x18) | (f.attr & 7);
  const tail = Buffer.alloc(16);
  f.cdb.copy(tail, 0, 0, Math.min(16, f.cdb.length));
  const b = bhs({ opcode: Opcode.SCSI_CMD, immediate: f.immediate, b1, lun: f.lun, itt: f.itt, dataLength: f.dataLength, w24: f.cmdSN, w28: f.expStatSN, tail });
  b.writeUInt32BE(f.edtl >>> 0, 20);
  return b;
}

/** Extended CDB AHS (type 1) for the bytes of `cdb` past 16; a correct one unless damaged later. */
export function extendedCdbAhs(cdb: Buffer): Buffer {
  const extra = cdb.subarray(16);
  const len = (4 + extra.length + 3) & ~3;
  const a = Buffer.alloc(len);
  a.writeUInt16BE(extra.length + 1, 0);
  a[2] = 1;
  extra.copy(a, 4);
  return a;
}

/** Expected bidirectional read data length AHS (type 2). */
export function bidiReadAhs(length: number, ahsLength = 5): Buffer {
  const a = Buffer.alloc(8);
  a.writeUInt16BE(ahsLength, 0);
  a[2] = 2;
  a.writeUInt32BE(length >>> 0, 4);
  return a;
}

export function dataOutBhs(f: {
  final: boolean;
  lun: number;
  itt: number;
  ttt: number;
  expStatSN: number;
  dataSN: number;
  offset: number;
  dataLength: number;
}): Buffer {
  const tail = Buffer.alloc(16);
  tail.writeUInt32BE(f.dataSN >>> 0, 4);
  tail.writeUInt32BE(f.offset >>> 0, 8);
  return bhs({ opcode: Opcode.DATA_OUT, b1: f.final ? 0x80 : 0, lun: f.lun, itt: f.itt, w20: f.ttt, w28: f.expStatSN, dataLength: f.dataLength, tail });
}

export function nopOutBhs(f: { immediate: boolean; lun?: number; itt: number; ttt: number; cmdSN: number; expStatSN: number; dataLength: number }): Buffer {
  return bhs({ opcode: Opcode.NOP_OUT, immediate: f.immediate, b1: 0x80, lun: f.lun ?? 0, itt: f.itt, w20: f.ttt, w24: f.cmdSN, w28: f.expStatSN, dataLength: f.dataLength });
}

export function tmfBhs(f: { immediate: boolean; fn: number; lun: number; itt: number; refItt: number; cmdSN: number; expStatSN: number; refCmdSN: number; expDataSN?: number }): Buffer {
  const tail = Buffer.alloc(16);
  tail.writeUInt32BE(f.refCmdSN >>> 0, 0);
  tail.writeUInt32BE((f.expDataSN ?? 0) >>> 0, 4);
  return bhs({ opcode: Opcode.TMF_REQ, immediate: f.immediate, b1: 0x80 | (f.fn & 0x7f), lun: f.lun, itt: f.itt, w20: f.refItt, w24: f.cmdSN, w28: f.expStatSN, tail });
}

export function textBhs(f: { immediate: boolean; final: boolean; cont: boolean; lun?: number; itt: number; ttt: number; cmdSN: number; expStatSN: number; dataLength: number }): Buffer {
  return bhs({
    opcode: Opcode.TEXT_REQ,
    immediate: f.immediate,
    b1: (f.final ? 0x80 : 0) | (f.cont ? 0x40 : 0),
    lun: f.lun ?? 0,
    itt: f.itt,
    w20: f.ttt,
    w24: f.cmdSN,
    w28: f.expStatSN,
    dataLength: f.dataLength,
  });
}

export function logoutBhs(f: { immediate: boolean; reason: number; itt: number; cid: number; cmdSN: number; expStatSN: number }): Buffer {
  return bhs({ opcode: Opcode.LOGOUT_REQ, immediate: f.immediate, b1: 0x80 | (f.reason & 0x7f), itt: f.itt, w20: (f.cid & 0xffff) << 16, w24: f.cmdSN, w28: f.expStatSN });
}

export function snackBhs(f: { type: number; lun: number; itt: number; ttt: number; expStatSN: number; begRun: number; runLength: number }): Buffer {
  const tail = Buffer.alloc(16);
  tail.writeUInt32BE(f.begRun >>> 0, 8);
  tail.writeUInt32BE(f.runLength >>> 0, 12);
  return bhs({ opcode: Opcode.SNACK, b1: 0x80 | (f.type & 0x0f), lun: f.lun, itt: f.itt, w20: f.ttt, w28: f.expStatSN, tail });
}

export function loginBhs(f: {
  transit: boolean;
  cont: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionMin: number;
  isid: Buffer;
  tsih: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
  dataLength: number;
}): Buffer {
  const id = Buffer.alloc(8);
  f.isid.copy(id, 0, 0, 6);
  id.writeUInt16BE(f.tsih & 0xffff, 6);
  return bhs({
    opcode: Opcode.LOGIN_REQ,
    immediate: true,
    b1: (f.transit ? 0x80 : 0) | (f.cont ? 0x40 : 0) | ((f.csg & 3) << 2) | (f.nsg & 3),
    b2: f.versionMax,
    b3: f.versionMin,
    lun: id,
    itt: f.itt,
    w20: (f.cid & 0xffff) << 16,
    w24: f.cmdSN,
    w28: f.expStatSN,
    dataLength: f.dataLength,
  });
}

// ------------------------------------------------------------------ text

/** key=value pairs, each NUL-terminated (RFC 7143 §6.1). */
export function textData(pairs: readonly (readonly [string, string])[]): Buffer {
  return Buffer.from(pairs.map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8');
}

export function parseText(data: Buffer): [string, string][] {
  const out: [string, string][] = [];
  for (const item of data.toString('utf8').split('\0')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    out.push(eq < 0 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)]);
  }
  return out;
}

// ------------------------------------------------------------------ bytes on the wire

export interface Digests {
  header: boolean;
  data: boolean;
}

export interface Damage {
  /** Send a wrong header / data digest. */
  badHeaderDigest?: boolean;
  badDataDigest?: boolean;
  /** Leave out the digests although negotiated, or add them although not. */
  flipHeaderDigest?: boolean;
  flipDataDigest?: boolean;
  /** Non-zero padding bytes. */
  dirtyPadding?: boolean;
}

const digestOf = (parts: Buffer[]): Buffer => {
  let crc = 0;
  for (const p of parts) if (p.length > 0) crc = crc32c(p, crc);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(crc >>> 0, 0);
  return b;
};

/** BHS, AHS, header digest, data, padding, data digest. */
export function pduBytes(head: Buffer, ahs: Buffer | undefined, data: Buffer | undefined, digests: Digests, damage: Damage = {}): Buffer {
  const parts: Buffer[] = [head];
  if (ahs && ahs.length > 0) parts.push(ahs);
  const hd = digests.header !== !!damage.flipHeaderDigest;
  if (hd) {
    const d = digestOf(parts.slice());
    if (damage.badHeaderDigest) d[0]! ^= 0x5a;
    parts.push(d);
  }
  if (data && data.length > 0) {
    const padLen = (4 - (data.length & 3)) & 3;
    const pad = Buffer.alloc(padLen, damage.dirtyPadding ? 0xa5 : 0);
    parts.push(data, pad);
    if (digests.data !== !!damage.flipDataDigest) {
      const d = digestOf([data, pad]);
      if (damage.badDataDigest) d[3]! ^= 0x81;
      parts.push(d);
    }
  }
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------ reading the target's PDUs

export interface RxPdu {
  bhs: Buffer;
  ahs: Buffer;
  data: Buffer;
  /** Wire problems found while framing (bad digest, dirty padding). */
  problems: string[];
}

/**
 * Frames the target's byte stream. Digests apply as `digests()` says when each PDU's header
 * starts (the session switches them right after the final Login Response). A data segment
 * longer than `maxData()` is still read (so framing continues) but reported by the caller.
 */
export class WireReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly digests: () => Digests,
    private readonly onPdu: (p: RxPdu) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length < 48) return;
      const head = this.buf.subarray(0, 48);
      const ahsLen = head[4]! * 4;
      const dl = dslOf(head);
      const d = this.digests();
      const padded = (dl + 3) & ~3;
      const total = 48 + ahsLen + (d.header ? 4 : 0) + padded + (dl > 0 && d.data ? 4 : 0);
      if (this.buf.length < total) return;
      const pdu = Buffer.from(this.buf.subarray(0, total));
      this.buf = this.buf.subarray(total);
      const problems: string[] = [];
      let at = 48 + ahsLen;
      if (d.header) {
        const want = digestOf([pdu.subarray(0, at)]);
        if (!want.equals(pdu.subarray(at, at + 4))) problems.push('bad header digest');
        at += 4;
      }
      const data = pdu.subarray(at, at + dl);
      const pad = pdu.subarray(at + dl, at + padded);
      if (pad.some((x) => x !== 0)) problems.push(`non-zero padding ${pad.toString('hex')}`);
      if (dl > 0 && d.data) {
        const want = digestOf([data, pad]);
        if (!want.equals(pdu.subarray(at + padded, at + padded + 4))) problems.push('bad data digest');
      }
      this.onPdu({ bhs: pdu.subarray(0, 48), ahs: pdu.subarray(48, 48 + ahsLen), data, problems });
    }
  }

  /** Bytes received but not yet a whole PDU. */
  get pending(): number {
    return this.buf.length;
  }
}
