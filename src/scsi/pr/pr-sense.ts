import { ScsiStatus } from '../command.js';
import { status, type StatusOutcome } from '../outcome.js';
import type { SenseReason } from '../sense-reasons.js';
import { SenseKey } from '../sense.js';

/** Outcomes and unit attentions of the reservation commands (SPC-4 Annex D). */
export const RESERVATION_CONFLICT: StatusOutcome = status(ScsiStatus.RESERVATION_CONFLICT);

function illegal(asc: number, ascq: number, fieldPointer?: SenseReason['fieldPointer']): SenseReason {
  return Object.freeze({ kind: 'sense', key: SenseKey.ILLEGAL_REQUEST, asc, ascq, ...(fieldPointer ? { fieldPointer } : {}) });
}

export const PrSense = {
  parameterListLengthError: illegal(0x1a, 0x00),
  /** The field pointer names the parameter list byte (and its most significant bit). */
  invalidFieldInParameterList: (byte: number, bit?: number): SenseReason =>
    illegal(0x26, 0x00, bit === undefined ? { cd: false, byte } : { cd: false, byte, bit }),
  invalidReleaseOfPersistentReservation: illegal(0x26, 0x04),
} as const;

/** Unit attention ASC/ASCQ 2Ah/03h-05h. */
export const PrUa = {
  RESERVATIONS_PREEMPTED: [0x2a, 0x03],
  RESERVATIONS_RELEASED: [0x2a, 0x04],
  REGISTRATIONS_PREEMPTED: [0x2a, 0x05],
} as const;
