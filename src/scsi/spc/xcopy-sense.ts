import { SenseKey } from '../sense.js';
import type { SenseReason } from '../sense-reasons.js';

/** Sense reasons of EXTENDED COPY / RECEIVE COPY RESULTS (SPC-4 6.4, Annex D names). */
function reason(key: number, asc: number, ascq: number, byte?: number): SenseReason {
  const extra = byte === undefined ? {} : { fieldPointer: { cd: false, byte } };
  return Object.freeze({ kind: 'sense', key, asc, ascq, ...extra });
}

const IR = SenseKey.ILLEGAL_REQUEST;
const COPY_ABORTED = SenseKey.COPY_ABORTED;

export const XcopySense = {
  parameterListLengthError: reason(IR, 0x1a, 0x00),
  /** The field pointer names a byte of the parameter list. */
  invalidFieldInParameterList: (byte: number): SenseReason => reason(IR, 0x26, 0x00, byte),
  tooManyTargetDescriptors: reason(IR, 0x26, 0x06),
  unsupportedTargetDescriptorType: (byte: number): SenseReason => reason(IR, 0x26, 0x07, byte),
  tooManySegmentDescriptors: reason(IR, 0x26, 0x08),
  unsupportedSegmentDescriptorType: (byte: number): SenseReason => reason(IR, 0x26, 0x09, byte),
  /** A list identifier still in use by a copy of the same I_T nexus. */
  operationInProgress: reason(IR, 0x00, 0x16),
  /** A segment names a CSCD descriptor that does not exist or names no LU of this target. */
  copyTargetNotReachable: reason(COPY_ABORTED, 0x0d, 0x02),
  /** The copy manager refused a segment it cannot carry out (e.g. beyond a LU's capacity). */
  copyAborted: reason(COPY_ABORTED, 0x00, 0x00),
} as const;
