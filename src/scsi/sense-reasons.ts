import { SenseKey, type FieldPointer, type SenseData } from './sense.js';

/**
 * A SCSI failure as a value (LIO's sense_reason_t): handlers return one of these and
 * `response.ts` turns it into status + sense bytes in the LU's sense format.
 */
export interface SenseReason extends SenseData {
  readonly kind: 'sense';
}

function reason(key: number, asc: number, ascq: number, extra?: Omit<SenseData, 'key' | 'asc' | 'ascq'>): SenseReason {
  return Object.freeze({ kind: 'sense', key, asc, ascq, ...extra });
}

function cdbField(byte: number, bit?: number): FieldPointer {
  return bit === undefined ? { cd: true, byte } : { cd: true, byte, bit };
}

/** ASC/ASCQ pairs used by the core (SPC-4 Annex D), named as in the standard. */
export const Asc = {
  NO_ADDITIONAL_SENSE: [0x00, 0x00],
  LOGICAL_UNIT_NOT_READY_MANUAL_INTERVENTION_REQUIRED: [0x04, 0x03],
  WRITE_ERROR: [0x0c, 0x00],
  INVALID_FIELD_IN_COMMAND_IU: [0x0e, 0x03],
  UNRECOVERED_READ_ERROR: [0x11, 0x00],
  INVALID_COMMAND_OPERATION_CODE: [0x20, 0x00],
  LBA_OUT_OF_RANGE: [0x21, 0x00],
  INVALID_FIELD_IN_CDB: [0x24, 0x00],
  LOGICAL_UNIT_NOT_SUPPORTED: [0x25, 0x00],
  WRITE_PROTECTED: [0x27, 0x00],
  SPACE_ALLOCATION_FAILED_WRITE_PROTECT: [0x27, 0x07],
  POWER_ON_RESET_OR_BUS_DEVICE_RESET: [0x29, 0x00],
  POWER_ON_OCCURRED: [0x29, 0x01],
  BUS_DEVICE_RESET_FUNCTION_OCCURRED: [0x29, 0x03],
  I_T_NEXUS_LOSS_OCCURRED: [0x29, 0x07],
  MODE_PARAMETERS_CHANGED: [0x2a, 0x01],
  CAPACITY_DATA_HAS_CHANGED: [0x2a, 0x09],
  COMMANDS_CLEARED_BY_ANOTHER_INITIATOR: [0x2f, 0x00],
  SAVING_PARAMETERS_NOT_SUPPORTED: [0x39, 0x00],
  REPORTED_LUNS_DATA_HAS_CHANGED: [0x3f, 0x0e],
  INTERNAL_TARGET_FAILURE: [0x44, 0x00],
  DATA_PHASE_ERROR: [0x4b, 0x00],
} as const satisfies Record<string, readonly [number, number]>;

export type AscPair = readonly [asc: number, ascq: number];

const [IR, MEDIUM, PROTECT] = [SenseKey.ILLEGAL_REQUEST, SenseKey.MEDIUM_ERROR, SenseKey.DATA_PROTECT];
const INVALID_FIELD_NO_POINTER = reason(IR, 0x24, 0x00);

export const Sense = {
  invalidOpcode: reason(IR, 0x20, 0x00),
  /**
   * The field pointer names the offending CDB byte (and its most significant bit, when it is a
   * bit field); without a byte there is no field pointer (SKSV = 0).
   */
  invalidFieldInCdb: (byte?: number, bit?: number): SenseReason =>
    byte === undefined ? INVALID_FIELD_NO_POINTER : reason(IR, 0x24, 0x00, { fieldPointer: cdbField(byte, bit) }),
  lbaOutOfRange: reason(IR, 0x21, 0x00),
  logicalUnitNotSupported: reason(IR, 0x25, 0x00),
  /** FCP/iSCSI: the initiator's expected length cannot carry what the CDB asks for. */
  invalidFieldInCommandIu: reason(IR, 0x0e, 0x03),
  savingParametersNotSupported: (byte: number, bit?: number): SenseReason =>
    reason(IR, 0x39, 0x00, { fieldPointer: cdbField(byte, bit) }),
  writeProtected: reason(PROTECT, 0x27, 0x00),
  spaceAllocationFailed: reason(PROTECT, 0x27, 0x07),
  unrecoveredReadError: (lba: number): SenseReason => reason(MEDIUM, 0x11, 0x00, { information: lba }),
  writeError: (lba: number): SenseReason => reason(MEDIUM, 0x0c, 0x00, { information: lba }),
  internalTargetFailure: reason(SenseKey.HARDWARE_ERROR, 0x44, 0x00),
  /**
   * An LU whose medium is gone or failed (offline, see block/health.ts). NOT READY 04h/03h rather
   * than HARDWARE ERROR / LOGICAL UNIT FAILURE: it is the code SPC keeps for "an operator has to
   * act"; Linux fails it at once (it retries only the 04h ASCQs that promise readiness, and
   * HARDWARE ERROR where retry_hwerror is set), a TEST UNIT READY path checker (multipath) sees
   * the path down, and a rescan after the LU comes back picks up its capacity.
   */
  notReadyManualIntervention: reason(SenseKey.NOT_READY, 0x04, 0x03),
  dataPhaseError: reason(SenseKey.ABORTED_COMMAND, 0x4b, 0x00),
  /** Transport-detected failures of a command's data phase (the iSCSI session ends the command with these). */
  protocolServiceCrcError: reason(SenseKey.ABORTED_COMMAND, 0x47, 0x05),
  /** SPC-4 WRITE ERROR - UNEXPECTED / NOT ENOUGH UNSOLICITED DATA (what LIO answers too). */
  unexpectedUnsolicitedData: reason(SenseKey.ABORTED_COMMAND, 0x0c, 0x0c),
  notEnoughUnsolicitedData: reason(SenseKey.ABORTED_COMMAND, 0x0c, 0x0d),
  /** SPC-4 INITIATOR RESPONSE TIMEOUT: the Data-Out the target asked for did not come. */
  initiatorResponseTimeout: reason(SenseKey.ABORTED_COMMAND, 0x4b, 0x06),
  unitAttention: (asc: number, ascq: number): SenseReason => reason(SenseKey.UNIT_ATTENTION, asc, ascq),
  noSense: reason(SenseKey.NO_SENSE, 0x00, 0x00),
} as const;

export function isSenseReason(value: object): value is SenseReason {
  return 'kind' in value && value.kind === 'sense';
}
