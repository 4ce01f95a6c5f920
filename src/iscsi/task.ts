import { Cancellation } from '../block/cancel.js';
import type { ScsiCommand, TaskAttribute } from '../scsi/command.js';
import type { ByteReservation } from './byte-budget.js';
import { DataOutBuffer } from './data-out-buffer.js';
import type { ScsiCommandPdu } from './pdu.js';

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
  /** Immediate data and Data-Out received so far. */
  readonly data: DataOutBuffer;
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
  /** What this command's data holds of the target-wide write budget (immediate, unsolicited, solicited). */
  readonly writeReservations: ByteReservation[] = [];
  /** The reservation for the Data-Out still to be asked for with R2Ts (taken before the first R2T). */
  solicitedReservation: ByteReservation | undefined;
  /** Left the session's books (task table, window, immediate count). */
  forgotten = false;
  /** Waiting for (or holding) its share of the read budget before it may execute. */
  readReservation: ByteReservation | undefined;
  /** The target was out of buffer room when its data arrived: answered TASK SET FULL, its data dropped. */
  refused = false;
  /** Counted in the CmdSN window's outstanding commands (non-immediate, delivered, not ended). */
  countedInWindow = false;
  /** Status sent: a task gets exactly one response. */
  responded = false;
  /** When (connection clock, ms) the last Data-Out came or the first R2T went: the Data-Out deadline runs from it. */
  lastDataAt = 0;
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
    this.data = new DataOutBuffer(pdu.write ? pdu.expectedDataTransferLength : 0);
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

  /**
   * True while the target waits for Data-Out the initiator owes: an R2T's data, or the rest of the
   * unsolicited burst (also for a command waiting its CmdSN turn, or answered early and waiting for it).
   */
  get awaitingData(): boolean {
    if (this.state === TaskState.Collecting) return this.r2ts.size > 0 || this.unsolicitedOpen;
    if (this.state === TaskState.Ordering) return this.unsolicitedOpen;
    return this.state === TaskState.Done && this.unsolicitedOpen && this.earlyResponse !== undefined;
  }

  /** Give back every byte this task holds of the write and read budgets. */
  releaseBudgets(): void {
    for (const r of this.writeReservations) r.release();
    this.writeReservations.length = 0;
    this.readReservation?.release();
    this.readReservation = undefined;
  }
}
