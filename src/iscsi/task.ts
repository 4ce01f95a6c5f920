import { Cancellation } from '../block/cancel.js';
import { SgVector } from '../block/sg.js';
import type { ScsiCommand, TaskAttribute } from '../scsi/command.js';
import type { ScsiCommandPdu } from './pdu.js';
import type { WriteReservation } from './write-budget.js';

export const enum TaskState {
  /** Received, waiting for its turn in CmdSN order. */
  Ordering,
  /** Prepared by the SCSI core; collecting Data-Out. */
  Collecting,
  /** With the SCSI core / block layer. */
  Executing,
  /** Response queued or sent. */
  Done,
  Aborted,
}

export interface OutstandingR2t {
  readonly ttt: number;
  readonly offset: number;
  readonly length: number;
  received: number;
  /** DataSN the next Data-Out of this sequence must carry. */
  nextDataSN: number;
}

const ATTRS: readonly TaskAttribute[] = ['simple', 'simple', 'ordered', 'headOfQueue', 'aca'];

/** One SCSI command on a session: its payload as an SG vector of received views, and its R2T state. */
export class IscsiTask {
  state = TaskState.Ordering;
  readonly data = new SgVector();
  /** Data-Out that may still arrive unsolicited (F bit not yet seen). */
  unsolicitedOpen: boolean;
  /** Bytes the SCSI core wants (set after prepare). */
  needed = 0;
  /** Next offset to ask for with an R2T. */
  nextR2tOffset = 0;
  r2tSN = 0;
  /** DataSN the next unsolicited Data-Out must carry. */
  unsolicitedDataSN = 0;
  readonly r2ts = new Map<number, OutstandingR2t>();
  /** The target-wide write budget this command's solicited Data-Out is counted against. */
  writeReservation: WriteReservation | undefined;
  /** Data-In / R2T PDUs sent, for ExpDataSN in the SCSI Response. */
  dataSN = 0;
  readonly abort = new Cancellation();
  readonly command: ScsiCommand;
  /** A response decided before the data arrived (error from prepare): sent once unsolicited data stops. */
  earlyResponse: (() => void) | undefined;
  /** Settles when the SCSI core is done with the task (for TMF that must wait for in-flight I/O). */
  execution: Promise<void> | undefined;

  constructor(
    readonly pdu: ScsiCommandPdu,
    nexus: ScsiCommand['nexus'],
  ) {
    this.unsolicitedOpen = pdu.write && !pdu.final;
    this.command = {
      nexus,
      lun: pdu.lun,
      cdb: pdu.cdb,
      tag: pdu.itt,
      attr: ATTRS[pdu.attr] ?? 'simple',
      expectedDataInLength: pdu.read ? (pdu.write ? (pdu.bidiReadLength ?? 0) : pdu.expectedDataTransferLength) : 0,
      expectedDataOutLength: pdu.write ? pdu.expectedDataTransferLength : 0,
      signal: this.abort.signal,
    };
  }

  get itt(): number {
    return this.pdu.itt;
  }

  get lun(): number {
    return this.pdu.lun;
  }

  get received(): number {
    return this.data.length;
  }
}
