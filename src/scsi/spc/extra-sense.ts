import { SenseKey, type FieldPointer } from '../sense.js';
import type { SenseReason } from '../sense-reasons.js';

/** Sense reasons of the SBC/SPC commands beyond the core set (SPC-4 Annex D names). */
function reason(key: number, asc: number, ascq: number, extra: { information?: number; fieldPointer?: FieldPointer } = {}): SenseReason {
  return Object.freeze({ kind: 'sense', key, asc, ascq, ...extra });
}

const IR = SenseKey.ILLEGAL_REQUEST;

export const ExtraSense = {
  /** VERIFY / COMPARE AND WRITE: INFORMATION = offset into the Data-Out buffer of the first differing byte. */
  miscompare: (offset: number): SenseReason => reason(SenseKey.MISCOMPARE, 0x1d, 0x00, { information: offset }),
  /** The field pointer names a byte (and bit) of the parameter list, not of the CDB. */
  invalidFieldInParameterList: (byte?: number, bit?: number): SenseReason =>
    byte === undefined
      ? reason(IR, 0x26, 0x00)
      : reason(IR, 0x26, 0x00, { fieldPointer: bit === undefined ? { cd: false, byte } : { cd: false, byte, bit } }),
  parameterListLengthError: reason(IR, 0x1a, 0x00),
  /** A removable medium is ejected (START STOP UNIT with LOEJ). */
  mediumNotPresent: reason(SenseKey.NOT_READY, 0x3a, 0x00),
  /** LOEJ while PREVENT ALLOW MEDIUM REMOVAL holds. */
  mediumRemovalPrevented: reason(IR, 0x53, 0x02),
} as const;
