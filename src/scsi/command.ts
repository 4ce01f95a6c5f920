import type { CancelSignal } from '../block/cancel.js';
import type { SgVector } from '../block/sg.js';

export type TaskAttribute = 'simple' | 'ordered' | 'headOfQueue' | 'aca';

/**
 * The I_T nexus: one initiator port talking to one target port. For iSCSI the
 * initiator port name is "<InitiatorName>,i,0x<ISID>" and the target port name
 * is "<TargetName>,t,0x<TPGT>". `id` is unique for the life of the process.
 */
export interface Nexus {
  readonly id: number;
  readonly initiatorPort: string;
  readonly targetPort: string;
  readonly relativeTargetPortId: number;
}

/** A SCSI command as the transport hands it to the SCSI core. */
export interface ScsiCommand {
  readonly nexus: Nexus;
  /** LUN as the flat number the transport decoded from the 8-byte LUN field. */
  readonly lun: number;
  readonly cdb: Buffer;
  readonly tag: number;
  readonly attr: TaskAttribute;
  /** Bytes the initiator is prepared to receive / send (EDTL). */
  readonly expectedDataInLength: number;
  readonly expectedDataOutLength: number;
  /** Aborted by a TMF or a dropped connection. */
  readonly signal: CancelSignal;
}

export const ScsiStatus = {
  GOOD: 0x00,
  CHECK_CONDITION: 0x02,
  CONDITION_MET: 0x04,
  BUSY: 0x08,
  RESERVATION_CONFLICT: 0x18,
  TASK_SET_FULL: 0x28,
  ACA_ACTIVE: 0x30,
  TASK_ABORTED: 0x40,
} as const;

export interface ScsiResponse {
  readonly status: number;
  /** Fixed or descriptor sense data when status is CHECK CONDITION. */
  readonly sense?: Buffer;
  /** Data for the initiator; the transport truncates to expectedDataInLength and reports residuals. */
  readonly dataIn?: SgVector;
  /** Called once the transport no longer needs dataIn (pool pages go back). */
  readonly release?: () => void;
  /**
   * Set for every command whose CDB asks for a Data-Out transfer: the bytes it asks for (SPDTL).
   * The transport compares it with expectedDataOutLength to report residual overflow/underflow
   * (RFC 7143). When EDTL < SPDTL the command either runs on the first EDTL bytes
   * (whole blocks; prepare asks for just those) or, when EDTL is not a whole number of blocks, is
   * refused by prepare with CHECK CONDITION, INVALID FIELD IN COMMAND INFORMATION UNIT; in both
   * cases the residual is an overflow of SPDTL - EDTL.
   */
  readonly dataOutTransferLength?: number;
}

/**
 * First phase, called in command order: decode the CDB and check everything that
 * does not need the payload (opcode, fields, LBA range, unit attentions, write protect).
 * 'respond' = answer now with this response, the command is over;
 * 'execute' = the transport collects `dataOutLength` bytes (0 for commands without
 * data-out; never more than expectedDataOutLength) and then calls execute().
 */
export type PrepareResult =
  | { readonly kind: 'respond'; readonly response: ScsiResponse }
  | { readonly kind: 'execute'; readonly dataOutLength: number };
