/** Encoding of the PDUs the target sends (RFC 7143 §11): plain fields into a fresh BHS. */
import { BHS_LENGTH, Op } from './opcodes.js';
import { encodeLun } from './lun.js';

function setDataSegmentLength(bhs: Buffer, length: number): void {
  bhs[5] = (length >> 16) & 0xff;
  bhs[6] = (length >> 8) & 0xff;
  bhs[7] = length & 0xff;
}

function newBhs(opcode: number, dataLength: number): Buffer {
  // From Node's shared slab (allocUnsafe), zeroed: cheaper than a separate zeroed allocation.
  const bhs = Buffer.allocUnsafe(BHS_LENGTH).fill(0);
  bhs[0] = opcode;
  setDataSegmentLength(bhs, dataLength);
  return bhs;
}

/** The three sequence numbers every target PDU carries. */
export interface SnFields {
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

function putSn(bhs: Buffer, sn: SnFields): void {
  bhs.writeUInt32BE(sn.statSN >>> 0, 24);
  bhs.writeUInt32BE(sn.expCmdSN >>> 0, 28);
  bhs.writeUInt32BE(sn.maxCmdSN >>> 0, 32);
}

export interface ScsiResponseFields extends SnFields {
  itt: number;
  response: number;
  status: number;
  /** Positive = underflow (U bit), negative = overflow (O bit). */
  residual: number;
  expDataSN: number;
  dataLength: number;
}

export function encodeScsiResponse(f: ScsiResponseFields): Buffer {
  const bhs = newBhs(Op.SCSI_RSP, f.dataLength);
  bhs[1] = 0x80 | (f.residual > 0 ? 0x02 : 0) | (f.residual < 0 ? 0x04 : 0);
  bhs[2] = f.response;
  bhs[3] = f.status;
  bhs.writeUInt32BE(f.itt >>> 0, 16);
  putSn(bhs, f);
  bhs.writeUInt32BE(f.expDataSN >>> 0, 36);
  bhs.writeUInt32BE(Math.abs(f.residual) >>> 0, 44);
  return bhs;
}

export interface DataInFields {
  itt: number;
  lun: number;
  final: boolean;
  /** Status collapsed into this (final) PDU. */
  status?: number;
  residual: number;
  expCmdSN: number;
  maxCmdSN: number;
  statSN: number;
  dataSN: number;
  bufferOffset: number;
  dataLength: number;
}

export function encodeDataIn(f: DataInFields): Buffer {
  const bhs = newBhs(Op.DATA_IN, f.dataLength);
  let b1 = f.final ? 0x80 : 0;
  if (f.status !== undefined) {
    b1 |= 0x01 | (f.residual > 0 ? 0x02 : 0) | (f.residual < 0 ? 0x04 : 0);
    bhs[3] = f.status;
    bhs.writeUInt32BE(f.statSN >>> 0, 24);
    bhs.writeUInt32BE(Math.abs(f.residual) >>> 0, 44);
  }
  bhs[1] = b1;
  encodeLun(f.lun, bhs, 8);
  bhs.writeUInt32BE(f.itt >>> 0, 16);
  bhs.writeUInt32BE(0xffffffff, 20);
  bhs.writeUInt32BE(f.expCmdSN >>> 0, 28);
  bhs.writeUInt32BE(f.maxCmdSN >>> 0, 32);
  bhs.writeUInt32BE(f.dataSN >>> 0, 36);
  bhs.writeUInt32BE(f.bufferOffset >>> 0, 40);
  return bhs;
}

export interface R2tFields extends SnFields {
  itt: number;
  ttt: number;
  lun: number;
  r2tSN: number;
  bufferOffset: number;
  desiredLength: number;
}

export function encodeR2t(f: R2tFields): Buffer {
  const bhs = newBhs(Op.R2T, 0);
  bhs[1] = 0x80;
  encodeLun(f.lun, bhs, 8);
  bhs.writeUInt32BE(f.itt >>> 0, 16);
  bhs.writeUInt32BE(f.ttt >>> 0, 20);
  putSn(bhs, f);
  bhs.writeUInt32BE(f.r2tSN >>> 0, 36);
  bhs.writeUInt32BE(f.bufferOffset >>> 0, 40);
  bhs.writeUInt32BE(f.desiredLength >>> 0, 44);
  return bhs;
}

export interface LoginResponseFields extends SnFields {
  transit: boolean;
  cont: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionActive: number;
  isid: Buffer;
  tsih: number;
  itt: number;
  statusClass: number;
  statusDetail: number;
  dataLength: number;
}

export function encodeLoginResponse(f: LoginResponseFields): Buffer {
  const bhs = newBhs(Op.LOGIN_RSP, f.dataLength);
  bhs[1] = (f.transit ? 0x80 : 0) | (f.cont ? 0x40 : 0) | ((f.csg & 3) << 2) | (f.nsg & 3);
  bhs[2] = f.versionMax;
  bhs[3] = f.versionActive;
  f.isid.copy(bhs, 8, 0, 6);
  bhs.writeUInt16BE(f.tsih, 14);
  bhs.writeUInt32BE(f.itt >>> 0, 16);
  putSn(bhs, f);
  bhs[36] = f.statusClass;
  bhs[37] = f.statusDetail;
  return bhs;
}

export interface TextResponseFields extends SnFields {
  final: boolean;
  cont: boolean;
  lun: number;
  itt: number;
  ttt: number;
  dataLength: number;
}

/** Text Response and NOP-In: flags, LUN, ITT, TTT and the sequence numbers in the same places. */
function taggedBhs(opcode: number, flags: number, f: SnFields & { lun: number; itt: number; ttt: number; dataLength: number }): Buffer {
  const bhs = newBhs(opcode, f.dataLength);
  bhs[1] = flags;
  encodeLun(f.lun, bhs, 8);
  bhs.writeUInt32BE(f.itt >>> 0, 16);
  bhs.writeUInt32BE(f.ttt >>> 0, 20);
  putSn(bhs, f);
  return bhs;
}

export function encodeTextResponse(f: TextResponseFields): Buffer {
  return taggedBhs(Op.TEXT_RSP, (f.final ? 0x80 : 0) | (f.cont ? 0x40 : 0), f);
}

export interface NopInFields extends SnFields {
  lun: number;
  itt: number;
  ttt: number;
  dataLength: number;
}

export function encodeNopIn(f: NopInFields): Buffer {
  return taggedBhs(Op.NOP_IN, 0x80, f);
}

export interface TmfResponseFields extends SnFields {
  itt: number;
  response: number;
}

/** TMF and Logout Responses: a response code, the ITT and the sequence numbers, no data. */
function responseBhs(opcode: number, f: TmfResponseFields): Buffer {
  const bhs = newBhs(opcode, 0);
  bhs[1] = 0x80;
  bhs[2] = f.response;
  bhs.writeUInt32BE(f.itt >>> 0, 16);
  putSn(bhs, f);
  return bhs;
}

export function encodeTmfResponse(f: TmfResponseFields): Buffer {
  return responseBhs(Op.TMF_RSP, f);
}

export interface LogoutResponseFields extends SnFields {
  itt: number;
  response: number;
  time2Wait: number;
  time2Retain: number;
}

export function encodeLogoutResponse(f: LogoutResponseFields): Buffer {
  const bhs = responseBhs(Op.LOGOUT_RSP, f);
  bhs.writeUInt16BE(f.time2Wait, 40);
  bhs.writeUInt16BE(f.time2Retain, 42);
  return bhs;
}

export interface RejectFields extends SnFields {
  reason: number;
  dataSN: number;
}

/** The rejected PDU's BHS travels as the data segment. */
export function encodeReject(f: RejectFields): Buffer {
  const bhs = newBhs(Op.REJECT, BHS_LENGTH);
  bhs[1] = 0x80;
  bhs[2] = f.reason;
  bhs.writeUInt32BE(0xffffffff, 16);
  putSn(bhs, f);
  bhs.writeUInt32BE(f.dataSN >>> 0, 36);
  return bhs;
}

export interface AsyncMessageFields extends SnFields {
  lun: number;
  event: number;
  vcode: number;
  parameter1: number;
  parameter2: number;
  parameter3: number;
  dataLength: number;
}

export const AsyncEvent = {
  SCSI_EVENT: 0,
  LOGOUT_REQUEST: 1,
  CONNECTION_DROP: 2,
  SESSION_DROP: 3,
  NEGOTIATION_REQUEST: 4,
} as const;

export function encodeAsyncMessage(f: AsyncMessageFields): Buffer {
  const bhs = newBhs(Op.ASYNC_MSG, f.dataLength);
  bhs[1] = 0x80;
  encodeLun(f.lun, bhs, 8);
  bhs.writeUInt32BE(0xffffffff, 16);
  putSn(bhs, f);
  bhs[36] = f.event;
  bhs[37] = f.vcode;
  bhs.writeUInt16BE(f.parameter1, 38);
  bhs.writeUInt16BE(f.parameter2, 40);
  bhs.writeUInt16BE(f.parameter3, 42);
  return bhs;
}
