/** Decoding of the PDUs an initiator sends (RFC 7143 §11): BHS (and AHS) into plain fields. */
import { decodeLun } from './lun.js';
import { isFinal, isImmediate, ittOf } from './pdu-header.js';
import { ScatterError } from '../shared/errors.js';

export interface ScsiCommandPdu {
  immediate: boolean;
  final: boolean;
  read: boolean;
  write: boolean;
  attr: number;
  lun: number;
  itt: number;
  expectedDataTransferLength: number;
  cmdSN: number;
  expStatSN: number;
  cdb: Buffer;
  /** Expected bidirectional read data length from AHS type 2, if present. */
  bidiReadLength?: number;
}

export class AhsError extends ScatterError<'AHS_INVALID'> {
  constructor(message: string) {
    super('AHS_INVALID', message);
  }
}

export function parseScsiCommand(bhs: Buffer, ahs: Buffer): ScsiCommandPdu {
  let cdb = bhs.subarray(32, 48);
  let bidiReadLength: number | undefined;
  for (let off = 0; off < ahs.length; ) {
    if (off + 4 > ahs.length) throw new AhsError('truncated AHS header');
    const len = ahs.readUInt16BE(off);
    const type = ahs[off + 2]!;
    const end = off + 3 + len;
    if (end > ahs.length) throw new AhsError('AHS length past the AHS area');
    if (type === 1) {
      // Extended CDB: the first 16 bytes are in the BHS, the rest here after one reserved byte.
      const ext = ahs.subarray(off + 4, end);
      const full = Buffer.allocUnsafe(16 + ext.length);
      bhs.copy(full, 0, 32, 48);
      ext.copy(full, 16);
      cdb = full;
    } else if (type === 2) {
      if (len !== 5) throw new AhsError('bidirectional read length AHS must have length 5');
      bidiReadLength = ahs.readUInt32BE(off + 4);
    } else {
      throw new AhsError(`unsupported AHS type ${type}`);
    }
    off = (end + 3) & ~3;
  }
  return {
    immediate: isImmediate(bhs),
    final: isFinal(bhs),
    read: (bhs[1]! & 0x40) !== 0,
    write: (bhs[1]! & 0x20) !== 0,
    attr: bhs[1]! & 0x07,
    lun: decodeLun(bhs, 8),
    itt: ittOf(bhs),
    expectedDataTransferLength: bhs.readUInt32BE(20),
    cmdSN: bhs.readUInt32BE(24),
    expStatSN: bhs.readUInt32BE(28),
    cdb,
    bidiReadLength,
  };
}

export interface DataOutPdu {
  final: boolean;
  lun: number;
  itt: number;
  ttt: number;
  expStatSN: number;
  dataSN: number;
  bufferOffset: number;
}

export function parseDataOut(bhs: Buffer): DataOutPdu {
  return {
    final: isFinal(bhs),
    lun: decodeLun(bhs, 8),
    itt: ittOf(bhs),
    ttt: bhs.readUInt32BE(20),
    expStatSN: bhs.readUInt32BE(28),
    dataSN: bhs.readUInt32BE(36),
    bufferOffset: bhs.readUInt32BE(40),
  };
}

export interface LoginRequestPdu {
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
}

export function parseLoginRequest(bhs: Buffer): LoginRequestPdu {
  const b1 = bhs[1]!;
  return {
    transit: (b1 & 0x80) !== 0,
    cont: (b1 & 0x40) !== 0,
    csg: (b1 >> 2) & 3,
    nsg: b1 & 3,
    versionMax: bhs[2]!,
    versionMin: bhs[3]!,
    isid: Buffer.from(bhs.subarray(8, 14)),
    tsih: bhs.readUInt16BE(14),
    itt: ittOf(bhs),
    cid: bhs.readUInt16BE(20),
    cmdSN: bhs.readUInt32BE(24),
    expStatSN: bhs.readUInt32BE(28),
  };
}

export interface TextRequestPdu {
  immediate: boolean;
  final: boolean;
  cont: boolean;
  lun: number;
  itt: number;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
}

export function parseTextRequest(bhs: Buffer): TextRequestPdu {
  return {
    immediate: isImmediate(bhs),
    final: isFinal(bhs),
    cont: (bhs[1]! & 0x40) !== 0,
    lun: decodeLun(bhs, 8),
    itt: ittOf(bhs),
    ttt: bhs.readUInt32BE(20),
    cmdSN: bhs.readUInt32BE(24),
    expStatSN: bhs.readUInt32BE(28),
  };
}

export interface NopOutPdu {
  immediate: boolean;
  lun: number;
  itt: number;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
}

export function parseNopOut(bhs: Buffer): NopOutPdu {
  return {
    immediate: isImmediate(bhs),
    lun: decodeLun(bhs, 8),
    itt: ittOf(bhs),
    ttt: bhs.readUInt32BE(20),
    cmdSN: bhs.readUInt32BE(24),
    expStatSN: bhs.readUInt32BE(28),
  };
}

export interface TmfRequestPdu {
  immediate: boolean;
  fn: number;
  lun: number;
  itt: number;
  referencedTaskTag: number;
  cmdSN: number;
  expStatSN: number;
  refCmdSN: number;
}

export function parseTmfRequest(bhs: Buffer): TmfRequestPdu {
  return {
    immediate: isImmediate(bhs),
    fn: bhs[1]! & 0x7f,
    lun: decodeLun(bhs, 8),
    itt: ittOf(bhs),
    referencedTaskTag: bhs.readUInt32BE(20),
    cmdSN: bhs.readUInt32BE(24),
    expStatSN: bhs.readUInt32BE(28),
    refCmdSN: bhs.readUInt32BE(32),
  };
}

export interface LogoutRequestPdu {
  immediate: boolean;
  reason: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
}

export function parseLogoutRequest(bhs: Buffer): LogoutRequestPdu {
  return {
    immediate: isImmediate(bhs),
    reason: bhs[1]! & 0x7f,
    itt: ittOf(bhs),
    cid: bhs.readUInt16BE(20),
    cmdSN: bhs.readUInt32BE(24),
    expStatSN: bhs.readUInt32BE(28),
  };
}
