import { SenseKey, type FieldPointer, type SenseData } from './sense.js';

/**
 * The one registry of SCSI failures as values (LIO's sense_reason_t). Handlers, gates and the
 * transport name a reason from here; `response.ts` (or `ScsiTargetCore.senseFor`) turns it into
 * sense bytes in the LU's format (D_SENSE). Every ASC/ASCQ number is written once, in `Asc`.
 */
export interface SenseReason extends SenseData {
  readonly kind: 'sense';
}

export type AscPair = readonly [asc: number, ascq: number];

/** ASC/ASCQ pairs (SPC-4 Annex D), named as in the standard. */
export const Asc = {
  NO_ADDITIONAL_SENSE: [0x00, 0x00],
  OPERATION_IN_PROGRESS: [0x00, 0x16],
  LOGICAL_UNIT_NOT_READY_MANUAL_INTERVENTION_REQUIRED: [0x04, 0x03],
  LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION: [0x04, 0x0a],
  LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_STANDBY_STATE: [0x04, 0x0b],
  LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_UNAVAILABLE_STATE: [0x04, 0x0c],
  LOGICAL_UNIT_NOT_READY_SANITIZE_IN_PROGRESS: [0x04, 0x1b],
  WRITE_ERROR: [0x0c, 0x00],
  UNEXPECTED_UNSOLICITED_DATA: [0x0c, 0x0c],
  NOT_ENOUGH_UNSOLICITED_DATA: [0x0c, 0x0d],
  COPY_TARGET_DEVICE_NOT_REACHABLE: [0x0d, 0x02],
  INVALID_FIELD_IN_COMMAND_IU: [0x0e, 0x03],
  UNRECOVERED_READ_ERROR: [0x11, 0x00],
  PARAMETER_LIST_LENGTH_ERROR: [0x1a, 0x00],
  MISCOMPARE_DURING_VERIFY_OPERATION: [0x1d, 0x00],
  INVALID_COMMAND_OPERATION_CODE: [0x20, 0x00],
  LBA_OUT_OF_RANGE: [0x21, 0x00],
  INVALID_FIELD_IN_CDB: [0x24, 0x00],
  LOGICAL_UNIT_NOT_SUPPORTED: [0x25, 0x00],
  INVALID_FIELD_IN_PARAMETER_LIST: [0x26, 0x00],
  INVALID_RELEASE_OF_PERSISTENT_RESERVATION: [0x26, 0x04],
  TOO_MANY_TARGET_DESCRIPTORS: [0x26, 0x06],
  UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE: [0x26, 0x07],
  TOO_MANY_SEGMENT_DESCRIPTORS: [0x26, 0x08],
  UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE: [0x26, 0x09],
  WRITE_PROTECTED: [0x27, 0x00],
  SPACE_ALLOCATION_FAILED_WRITE_PROTECT: [0x27, 0x07],
  POWER_ON_RESET_OR_BUS_DEVICE_RESET: [0x29, 0x00],
  POWER_ON_OCCURRED: [0x29, 0x01],
  BUS_DEVICE_RESET_FUNCTION_OCCURRED: [0x29, 0x03],
  I_T_NEXUS_LOSS_OCCURRED: [0x29, 0x07],
  MODE_PARAMETERS_CHANGED: [0x2a, 0x01],
  RESERVATIONS_PREEMPTED: [0x2a, 0x03],
  RESERVATIONS_RELEASED: [0x2a, 0x04],
  REGISTRATIONS_PREEMPTED: [0x2a, 0x05],
  ASYMMETRIC_ACCESS_STATE_CHANGED: [0x2a, 0x06],
  CAPACITY_DATA_HAS_CHANGED: [0x2a, 0x09],
  COMMANDS_CLEARED_BY_ANOTHER_INITIATOR: [0x2f, 0x00],
  SANITIZE_COMMAND_FAILED: [0x31, 0x03],
  SAVING_PARAMETERS_NOT_SUPPORTED: [0x39, 0x00],
  MEDIUM_NOT_PRESENT: [0x3a, 0x00],
  REPORTED_LUNS_DATA_HAS_CHANGED: [0x3f, 0x0e],
  INTERNAL_TARGET_FAILURE: [0x44, 0x00],
  PROTOCOL_SERVICE_CRC_ERROR: [0x47, 0x05],
  DATA_PHASE_ERROR: [0x4b, 0x00],
  INITIATOR_RESPONSE_TIMEOUT: [0x4b, 0x06],
  MEDIUM_REMOVAL_PREVENTED: [0x53, 0x02],
} as const satisfies Record<string, AscPair>;

type Extra = Omit<SenseData, 'key' | 'asc' | 'ascq'>;

function reason(key: number, [asc, ascq]: AscPair, extra?: Extra): SenseReason {
  return Object.freeze({ kind: 'sense', key, asc, ascq, ...extra });
}

/** A field pointer into the CDB (cd) or the parameter list; `bit` is the field's most significant bit. */
function field(cd: boolean, byte: number, bit?: number): { fieldPointer: FieldPointer } {
  return { fieldPointer: bit === undefined ? { cd, byte } : { cd, byte, bit } };
}

const { ILLEGAL_REQUEST: IR, MEDIUM_ERROR: MEDIUM, DATA_PROTECT: PROTECT, NOT_READY, ABORTED_COMMAND: ABORTED } = SenseKey;
const INVALID_FIELD_IN_CDB = reason(IR, Asc.INVALID_FIELD_IN_CDB);
const INVALID_FIELD_IN_PARAMETER_LIST = reason(IR, Asc.INVALID_FIELD_IN_PARAMETER_LIST);

export const Sense = {
  // ILLEGAL REQUEST: the CDB.
  invalidOpcode: reason(IR, Asc.INVALID_COMMAND_OPERATION_CODE),
  /**
   * The field pointer names the offending CDB byte (and its most significant bit, when it is a
   * bit field); without a byte there is no field pointer (SKSV = 0).
   */
  invalidFieldInCdb: (byte?: number, bit?: number): SenseReason =>
    byte === undefined ? INVALID_FIELD_IN_CDB : reason(IR, Asc.INVALID_FIELD_IN_CDB, field(true, byte, bit)),
  lbaOutOfRange: reason(IR, Asc.LBA_OUT_OF_RANGE),
  logicalUnitNotSupported: reason(IR, Asc.LOGICAL_UNIT_NOT_SUPPORTED),
  /** FCP/iSCSI: the initiator's expected length cannot carry what the CDB asks for. */
  invalidFieldInCommandIu: reason(IR, Asc.INVALID_FIELD_IN_COMMAND_IU),
  savingParametersNotSupported: (byte: number, bit?: number): SenseReason =>
    reason(IR, Asc.SAVING_PARAMETERS_NOT_SUPPORTED, field(true, byte, bit)),

  // ILLEGAL REQUEST: the parameter list (MODE SELECT, UNMAP, PERSISTENT RESERVE OUT, EXTENDED COPY, SANITIZE).
  parameterListLengthError: reason(IR, Asc.PARAMETER_LIST_LENGTH_ERROR),
  /** The field pointer names a byte (and bit) of the parameter list, not of the CDB. */
  invalidFieldInParameterList: (byte?: number, bit?: number): SenseReason =>
    byte === undefined ? INVALID_FIELD_IN_PARAMETER_LIST : reason(IR, Asc.INVALID_FIELD_IN_PARAMETER_LIST, field(false, byte, bit)),
  invalidReleaseOfPersistentReservation: reason(IR, Asc.INVALID_RELEASE_OF_PERSISTENT_RESERVATION),
  tooManyTargetDescriptors: reason(IR, Asc.TOO_MANY_TARGET_DESCRIPTORS),
  unsupportedTargetDescriptorType: (byte: number): SenseReason => reason(IR, Asc.UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE, field(false, byte)),
  tooManySegmentDescriptors: reason(IR, Asc.TOO_MANY_SEGMENT_DESCRIPTORS),
  unsupportedSegmentDescriptorType: (byte: number): SenseReason => reason(IR, Asc.UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE, field(false, byte)),
  /** EXTENDED COPY: a list identifier still in use by a copy of the same I_T nexus. */
  operationInProgress: reason(IR, Asc.OPERATION_IN_PROGRESS),
  /** START STOP UNIT with LOEJ while PREVENT ALLOW MEDIUM REMOVAL holds. */
  mediumRemovalPrevented: reason(IR, Asc.MEDIUM_REMOVAL_PREVENTED),

  // DATA PROTECT.
  writeProtected: reason(PROTECT, Asc.WRITE_PROTECTED),
  spaceAllocationFailed: reason(PROTECT, Asc.SPACE_ALLOCATION_FAILED_WRITE_PROTECT),

  // MEDIUM ERROR: INFORMATION = the first LBA of the command (the block layer does not say which failed).
  unrecoveredReadError: (lba: number): SenseReason => reason(MEDIUM, Asc.UNRECOVERED_READ_ERROR, { information: lba }),
  writeError: (lba: number): SenseReason => reason(MEDIUM, Asc.WRITE_ERROR, { information: lba }),
  /** The last sanitize operation failed (SBC-4 4.11.4). */
  sanitizeCommandFailed: reason(MEDIUM, Asc.SANITIZE_COMMAND_FAILED),

  // NOT READY.
  /**
   * An LU whose medium is gone or failed (offline, see block/health.ts). NOT READY 04h/03h rather
   * than HARDWARE ERROR / LOGICAL UNIT FAILURE: it is the code SPC keeps for "an operator has to
   * act"; Linux fails it at once (it retries only the 04h ASCQs that promise readiness, and
   * HARDWARE ERROR where retry_hwerror is set), a TEST UNIT READY path checker (multipath) sees
   * the path down, and a rescan after the LU comes back picks up its capacity.
   */
  notReadyManualIntervention: reason(NOT_READY, Asc.LOGICAL_UNIT_NOT_READY_MANUAL_INTERVENTION_REQUIRED),
  /** A removable medium is ejected (START STOP UNIT with LOEJ). */
  mediumNotPresent: reason(NOT_READY, Asc.MEDIUM_NOT_PRESENT),
  /** With the PROGRESS INDICATION: the fraction done, 0..65535 of 65536. */
  sanitizeInProgress: (progress: number): SenseReason => reason(NOT_READY, Asc.LOGICAL_UNIT_NOT_READY_SANITIZE_IN_PROGRESS, { progress }),
  /** ALUA (alua-gate.ts): this target port's group is changing state; Linux retries until the transition time. */
  asymmetricAccessStateTransition: reason(NOT_READY, Asc.LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION),
  /** ALUA: this target port's group is in standby (multipath's TUR checker shows the path as a ghost). */
  targetPortInStandbyState: reason(NOT_READY, Asc.LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_STANDBY_STATE),
  /** ALUA: this target port's group is unavailable. */
  targetPortInUnavailableState: reason(NOT_READY, Asc.LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_UNAVAILABLE_STATE),

  internalTargetFailure: reason(SenseKey.HARDWARE_ERROR, Asc.INTERNAL_TARGET_FAILURE),

  // ABORTED COMMAND: data the transport delivered cannot be used.
  dataPhaseError: reason(ABORTED, Asc.DATA_PHASE_ERROR),
  /** A data digest error on Data-Out (RFC 7143 ERL 0). */
  protocolServiceCrcError: reason(ABORTED, Asc.PROTOCOL_SERVICE_CRC_ERROR),
  /** WRITE ERROR - UNEXPECTED / NOT ENOUGH UNSOLICITED DATA (SPC-4; what LIO answers too). */
  unexpectedUnsolicitedData: reason(ABORTED, Asc.UNEXPECTED_UNSOLICITED_DATA),
  notEnoughUnsolicitedData: reason(ABORTED, Asc.NOT_ENOUGH_UNSOLICITED_DATA),
  /** The Data-Out the target asked for did not come. */
  initiatorResponseTimeout: reason(ABORTED, Asc.INITIATOR_RESPONSE_TIMEOUT),

  /** VERIFY / COMPARE AND WRITE: INFORMATION = offset into the Data-Out buffer of the first differing byte. */
  miscompare: (offset: number): SenseReason => reason(SenseKey.MISCOMPARE, Asc.MISCOMPARE_DURING_VERIFY_OPERATION, { information: offset }),

  // COPY ABORTED (EXTENDED COPY).
  /** A segment names a CSCD descriptor that does not exist or names no LU of this target. */
  copyTargetNotReachable: reason(SenseKey.COPY_ABORTED, Asc.COPY_TARGET_DEVICE_NOT_REACHABLE),
  /** The copy manager refused a segment it cannot carry out (e.g. beyond a LU's capacity). */
  copyAborted: reason(SenseKey.COPY_ABORTED, Asc.NO_ADDITIONAL_SENSE),

  unitAttention: (asc: number, ascq: number): SenseReason => reason(SenseKey.UNIT_ATTENTION, [asc, ascq]),
  noSense: reason(SenseKey.NO_SENSE, Asc.NO_ADDITIONAL_SENSE),
} as const;

export function isSenseReason(value: object): value is SenseReason {
  return 'kind' in value && value.kind === 'sense';
}
