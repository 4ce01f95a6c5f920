/**
 * Assertion (c): every PDU the target sends is well formed on its own (RFC 7143 §11): a target
 * opcode, reserved bits clear, flags that may go together, a data segment no longer than what
 * the initiator declared it can receive, zero padding and correct digests. Checks that need
 * the conversation (StatSN order, tags, DataSN) live in the session.
 */
import { NO_TAG, Opcode, dslOf, ittOf, opOf, type RxPdu } from './wire.js';

export interface CheckContext {
  /** The initiator's MaxRecvDataSegmentLength: 8192 during login, the declared value after. */
  maxRecv: number;
  /** Login phase (only Login Responses may come) or full feature phase. */
  phase: 'login' | 'ffp';
}

const TARGET_OPCODES = new Set<number>([
  Opcode.NOP_IN,
  Opcode.SCSI_RSP,
  Opcode.TMF_RSP,
  Opcode.LOGIN_RSP,
  Opcode.TEXT_RSP,
  Opcode.DATA_IN,
  Opcode.LOGOUT_RSP,
  Opcode.R2T,
  Opcode.ASYNC,
  Opcode.REJECT,
]);

const TMF_RESPONSES = new Set([0, 1, 2, 3, 4, 5, 6, 255]);
const REJECT_REASONS = new Set([0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c]);
const ASYNC_EVENTS = new Set([0, 1, 2, 3, 4, 5, 255]);

export function checkTargetPdu(p: RxPdu, ctx: CheckContext): string[] {
  const out = [...p.problems];
  const b = p.bhs;
  const op = opOf(b);
  const b1 = b[1]!;
  const dsl = dslOf(b);
  if (!TARGET_OPCODES.has(op)) out.push(`opcode 0x${op.toString(16)} is not a target opcode`);
  if ((b[0]! & 0xc0) !== 0) out.push(`reserved/I bits set in byte 0 (0x${b[0]!.toString(16)})`);
  if (b[4] !== 0) out.push(`TotalAHSLength ${b[4]} on a target PDU`);
  if (dsl > ctx.maxRecv) out.push(`data segment ${dsl} > initiator MaxRecvDataSegmentLength ${ctx.maxRecv}`);
  if (ctx.phase === 'login' && op !== Opcode.LOGIN_RSP) out.push(`${op.toString(16)} during login`);
  const final = (b1 & 0x80) !== 0;
  const itt = ittOf(b);
  const w20 = b.readUInt32BE(20);
  switch (op) {
    case Opcode.NOP_IN:
      if (b1 !== 0x80) out.push(`NOP-In byte 1 0x${b1.toString(16)}`);
      if (itt === NO_TAG && w20 === NO_TAG) out.push('NOP-In with ITT and TTT both 0xffffffff');
      if (itt !== NO_TAG && w20 !== NO_TAG) out.push('NOP-In answer with a TTT');
      break;
    case Opcode.SCSI_RSP: {
      if (!final || (b1 & 0x61) !== 0) out.push(`SCSI Response byte 1 0x${b1.toString(16)}`);
      if ((b1 & 0x06) === 0x06) out.push('SCSI Response with both O and U');
      if ((b1 & 0x18) === 0x18) out.push('SCSI Response with both o and u');
      if (b[2]! > 1) out.push(`SCSI Response response code 0x${b[2]!.toString(16)}`);
      if (itt === NO_TAG) out.push('SCSI Response for ITT 0xffffffff');
      if (dsl === 1) out.push('SCSI Response data segment of 1 byte (no room for SenseLength)');
      if (dsl >= 2 && p.data.length >= 2 && p.data.readUInt16BE(0) + 2 > dsl) out.push(`SenseLength ${p.data.readUInt16BE(0)} past the data segment ${dsl}`);
      if ((b1 & 0x06) === 0 && b.readUInt32BE(44) !== 0) out.push('residual count without O or U');
      break;
    }
    case Opcode.DATA_IN: {
      const s = (b1 & 0x01) !== 0;
      if ((b1 & 0x38) !== 0) out.push(`Data-In reserved bits 0x${b1.toString(16)}`);
      if (s && !final) out.push('Data-In with S but not F');
      if (!s && (b1 & 0x06) !== 0) out.push('Data-In with O/U but no S');
      if ((b1 & 0x06) === 0x06) out.push('Data-In with both O and U');
      if ((b1 & 0x40) !== 0) out.push('Data-In with the A bit at ErrorRecoveryLevel 0');
      if (itt === NO_TAG) out.push('Data-In for ITT 0xffffffff');
      if (w20 !== NO_TAG) out.push(`Data-In TTT 0x${w20.toString(16)} without the A bit`);
      if (!s && b[3] !== 0) out.push('Data-In status byte without S');
      break;
    }
    case Opcode.R2T:
      if (b1 !== 0x80) out.push(`R2T byte 1 0x${b1.toString(16)}`);
      if (dsl !== 0) out.push(`R2T with a data segment (${dsl})`);
      if (w20 === NO_TAG) out.push('R2T with TTT 0xffffffff');
      if (itt === NO_TAG) out.push('R2T for ITT 0xffffffff');
      if (b.readUInt32BE(44) === 0) out.push('R2T asking for 0 bytes');
      break;
    case Opcode.TMF_RSP:
      if (b1 !== 0x80) out.push(`TMF Response byte 1 0x${b1.toString(16)}`);
      if (!TMF_RESPONSES.has(b[2]!)) out.push(`TMF response code ${b[2]}`);
      if (dsl !== 0) out.push('TMF Response with data');
      break;
    case Opcode.LOGIN_RSP: {
      const t = (b1 & 0x80) !== 0;
      const c = (b1 & 0x40) !== 0;
      const csg = (b1 >> 2) & 3;
      const nsg = b1 & 3;
      if (t && c) out.push('Login Response with both T and C');
      if ((b1 & 0x30) !== 0) out.push(`Login Response reserved bits 0x${b1.toString(16)}`);
      if (csg === 2 || csg === 3) out.push(`Login Response CSG ${csg}`);
      if (t && (nsg === 2 || nsg <= csg)) out.push(`Login Response transit CSG ${csg} -> NSG ${nsg}`);
      if (b[2] !== 0 || b[3] !== 0) out.push(`Login Response version max/active ${b[2]}/${b[3]}`);
      if (b[36]! > 3) out.push(`Login status class ${b[36]}`);
      break;
    }
    case Opcode.TEXT_RSP: {
      const c = (b1 & 0x40) !== 0;
      if (final && c) out.push('Text Response with both F and C');
      if ((b1 & 0x3f) !== 0) out.push(`Text Response reserved bits 0x${b1.toString(16)}`);
      if (final && w20 !== NO_TAG) out.push('final Text Response with a TTT');
      if (!final && w20 === NO_TAG) out.push('non-final Text Response without a TTT');
      if (itt === NO_TAG) out.push('Text Response for ITT 0xffffffff');
      break;
    }
    case Opcode.LOGOUT_RSP:
      if (b1 !== 0x80) out.push(`Logout Response byte 1 0x${b1.toString(16)}`);
      if (b[2]! > 3) out.push(`Logout response code ${b[2]}`);
      if (dsl !== 0) out.push('Logout Response with data');
      break;
    case Opcode.REJECT:
      if (b1 !== 0x80) out.push(`Reject byte 1 0x${b1.toString(16)}`);
      if (!REJECT_REASONS.has(b[2]!)) out.push(`Reject reason 0x${b[2]!.toString(16)}`);
      if (dsl < 48) out.push(`Reject data segment ${dsl} (must hold the rejected BHS)`);
      if (itt !== NO_TAG) out.push('Reject with an ITT');
      break;
    case Opcode.ASYNC:
      if (b1 !== 0x80) out.push(`Async Message byte 1 0x${b1.toString(16)}`);
      if (itt !== NO_TAG) out.push('Async Message with an ITT');
      if (!ASYNC_EVENTS.has(b[36]!)) out.push(`AsyncEvent ${b[36]}`);
      break;
  }
  return out;
}
