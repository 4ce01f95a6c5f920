/** Initiator-side PDU encoders for the test initiator (the target only decodes these). */
import { encodeLun } from '../../src/iscsi/lun.js';
import { Op } from '../../src/iscsi/opcodes.js';

function bhs(opcode: number, immediate: boolean, dataLength: number): Buffer {
  const b = Buffer.alloc(48);
  b[0] = opcode | (immediate ? 0x40 : 0);
  b[5] = (dataLength >> 16) & 0xff;
  b[6] = (dataLength >> 8) & 0xff;
  b[7] = dataLength & 0xff;
  return b;
}

export function loginRequest(f: {
  transit: boolean;
  cont?: boolean;
  csg: number;
  nsg: number;
  isid: Buffer;
  tsih: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
  dataLength: number;
  versionMax?: number;
  versionMin?: number;
}): Buffer {
  const b = bhs(Op.LOGIN_REQ, true, f.dataLength);
  b[1] = (f.transit ? 0x80 : 0) | (f.cont ? 0x40 : 0) | ((f.csg & 3) << 2) | (f.nsg & 3);
  b[2] = f.versionMax ?? 0;
  b[3] = f.versionMin ?? 0;
  f.isid.copy(b, 8, 0, 6);
  b.writeUInt16BE(f.tsih, 14);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt16BE(f.cid, 20);
  b.writeUInt32BE(f.cmdSN >>> 0, 24);
  b.writeUInt32BE(f.expStatSN >>> 0, 28);
  return b;
}

export function scsiCommand(f: {
  immediate?: boolean;
  final: boolean;
  read: boolean;
  write: boolean;
  attr?: number;
  lun: number;
  itt: number;
  edtl: number;
  cmdSN: number;
  expStatSN: number;
  cdb: Buffer;
  dataLength: number;
}): { bhs: Buffer; ahs?: Buffer } {
  let ahs: Buffer | undefined;
  const b = bhs(Op.SCSI_CMD, f.immediate ?? false, f.dataLength);
  b[1] = (f.final ? 0x80 : 0) | (f.read ? 0x40 : 0) | (f.write ? 0x20 : 0) | ((f.attr ?? 1) & 7);
  encodeLun(f.lun, b, 8);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(f.edtl >>> 0, 20);
  b.writeUInt32BE(f.cmdSN >>> 0, 24);
  b.writeUInt32BE(f.expStatSN >>> 0, 28);
  f.cdb.copy(b, 32, 0, Math.min(16, f.cdb.length));
  if (f.cdb.length > 16) {
    const extra = f.cdb.length - 16;
    const len = (4 + extra + 3) & ~3;
    ahs = Buffer.alloc(len);
    ahs.writeUInt16BE(extra + 1, 0);
    ahs[2] = 1;
    f.cdb.copy(ahs, 4, 16);
    b[4] = len / 4;
  }
  return { bhs: b, ahs };
}

export function dataOut(f: {
  final: boolean;
  lun: number;
  itt: number;
  ttt: number;
  expStatSN: number;
  dataSN: number;
  bufferOffset: number;
  dataLength: number;
}): Buffer {
  const b = bhs(Op.DATA_OUT, false, f.dataLength);
  b[1] = f.final ? 0x80 : 0;
  encodeLun(f.lun, b, 8);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(f.ttt >>> 0, 20);
  b.writeUInt32BE(f.expStatSN >>> 0, 28);
  b.writeUInt32BE(f.dataSN >>> 0, 36);
  b.writeUInt32BE(f.bufferOffset >>> 0, 40);
  return b;
}

export function nopOut(f: { immediate: boolean; itt: number; ttt: number; cmdSN: number; expStatSN: number; dataLength: number }): Buffer {
  const b = bhs(Op.NOP_OUT, f.immediate, f.dataLength);
  b[1] = 0x80;
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(f.ttt >>> 0, 20);
  b.writeUInt32BE(f.cmdSN >>> 0, 24);
  b.writeUInt32BE(f.expStatSN >>> 0, 28);
  return b;
}

export function tmfRequest(f: {
  immediate: boolean;
  fn: number;
  lun: number;
  itt: number;
  refItt: number;
  cmdSN: number;
  expStatSN: number;
  refCmdSN: number;
}): Buffer {
  const b = bhs(Op.TMF_REQ, f.immediate, 0);
  b[1] = 0x80 | (f.fn & 0x7f);
  encodeLun(f.lun, b, 8);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(f.refItt >>> 0, 20);
  b.writeUInt32BE(f.cmdSN >>> 0, 24);
  b.writeUInt32BE(f.expStatSN >>> 0, 28);
  b.writeUInt32BE(f.refCmdSN >>> 0, 32);
  return b;
}

export function textRequest(f: {
  immediate: boolean;
  final: boolean;
  cont?: boolean;
  itt: number;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
  dataLength: number;
}): Buffer {
  const b = bhs(Op.TEXT_REQ, f.immediate, f.dataLength);
  b[1] = (f.final ? 0x80 : 0) | (f.cont ? 0x40 : 0);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt32BE(f.ttt >>> 0, 20);
  b.writeUInt32BE(f.cmdSN >>> 0, 24);
  b.writeUInt32BE(f.expStatSN >>> 0, 28);
  return b;
}

export function logoutRequest(f: { immediate: boolean; reason: number; itt: number; cid: number; cmdSN: number; expStatSN: number }): Buffer {
  const b = bhs(Op.LOGOUT_REQ, f.immediate, 0);
  b[1] = 0x80 | (f.reason & 0x7f);
  b.writeUInt32BE(f.itt >>> 0, 16);
  b.writeUInt16BE(f.cid, 20);
  b.writeUInt32BE(f.cmdSN >>> 0, 24);
  b.writeUInt32BE(f.expStatSN >>> 0, 28);
  return b;
}

/** One PDU as bytes on the wire without digests: BHS, AHS, data padded to a multiple of 4. */
export function concatPdu(bhs: Buffer, ahs?: Buffer, data?: Buffer): Buffer {
  const parts = [bhs];
  if (ahs) parts.push(ahs);
  if (data && data.length > 0) {
    parts.push(data);
    const pad = (4 - (data.length % 4)) % 4;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  return Buffer.concat(parts);
}
