import { Cancellation } from '../block/cancel.js';
import type { ScsiCommand, TaskAttribute } from '../scsi/command.js';
import type { ByteReservation } from './byte-budget.js';
import { DataOutBuffer } from './data-out-buffer.js';
import type { ScsiCommandPdu } from './pdu.js';

/**
 * A command's life on its session. The transport task owns it from arrival to its one response;
 * the SCSI core sees it only through `prepare()`, `execute()` and the command's cancel signal
 * (which every transition to Aborted or a failed Done fires), and keeps its own task-set state
 * behind them. Nothing here mirrors the core's state.
 *
 *   Ordering --collect()--> Collecting --execute()--> Executing --decide()--> Done
 *      |                        |                        |
 *      +--decide() / fail()-----+--fail()               +--abort()--> Aborted (no response)
 *      +--abort()---------------+--abort()
 */
export const enum TaskState {
  /** Received, waiting for its turn in CmdSN order. */
  Ordering,
  /** Prepared by the SCSI core; collecting Data-Out. */
  Collecting,
  /** Handed to the SCSI core (or waiting for its share of the read budget first). */
  Executing,
  /** Its response is decided (sent, or held until the unsolicited burst ends). */
  Done,
  /** Ended by a TMF or the session's end: no response. */
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
  private phase = TaskState.Ordering;
  /** Immediate data and Data-Out received so far. */
  readonly data: DataOutBuffer;
  /** Data-Out that may still arrive unsolicited (F bit not yet seen). */
  unsolicitedOpen: boolean;
  /** Bytes the SCSI core wants (set by collect()). */
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
  /** When (connection clock, ms) it began waiting for room in the write budget (undefined: not waiting). */
  budgetWaitSince: number | undefined;
  /** When (connection clock, ms) the last Data-Out came or the first R2T went: the Data-Out deadline runs from it. */
  lastDataAt = 0;
  /** Data-In / R2T PDUs sent, for ExpDataSN in the SCSI Response. */
  dataSN = 0;
  private readonly cancel = new Cancellation();
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
      signal: this.cancel.signal,
    };
  }

  get state(): TaskState {
    return this.phase;
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

  /** Still receiving data (or waiting to): a Data-Out error or deadline may end it with a status. */
  get receiving(): boolean {
    return this.phase === TaskState.Ordering || this.phase === TaskState.Collecting;
  }

  /** Prepared by the core, which wants `needed` bytes of Data-Out (0 for none). */
  collect(needed: number): void {
    this.expect(TaskState.Ordering);
    this.phase = TaskState.Collecting;
    this.needed = needed;
  }

  /** Every byte needed is here: the command goes to the core. */
  startExecution(): void {
    this.expect(TaskState.Collecting);
    this.phase = TaskState.Executing;
  }

  /** Its response is decided (by the core, or by the transport before the core ran it). */
  decide(): void {
    if (this.phase === TaskState.Aborted) throw new Error(`task ${this.itt}: a response for an aborted task`);
    this.phase = TaskState.Done;
  }

  /**
   * The transport ends it with a status of its own (a Data-Out error or deadline) while it still
   * receives data: the core lets go of it, its data goes at once. Nothing for a task past that.
   */
  fail(): void {
    if (!this.receiving) return;
    this.phase = TaskState.Done;
    this.r2ts.clear();
    this.cancel.abort();
    this.data.discard();
  }

  /** Ended without a response (TMF, session end). Returns the state it was in. */
  abort(): TaskState {
    const was = this.phase;
    this.phase = TaskState.Aborted;
    this.cancel.abort();
    this.r2ts.clear();
    return was;
  }

  /**
   * True while the target waits for Data-Out the initiator owes: an R2T's data, or the rest of the
   * unsolicited burst (also for a command waiting its CmdSN turn, or answered early and waiting for it).
   */
  get awaitingData(): boolean {
    if (this.phase === TaskState.Collecting) return this.r2ts.size > 0 || this.unsolicitedOpen;
    if (this.phase === TaskState.Ordering) return this.unsolicitedOpen;
    return this.phase === TaskState.Done && this.unsolicitedOpen && this.earlyResponse !== undefined;
  }

  /** Give back every byte this task holds of the write and read budgets, and its landing pages (its data is no longer used). */
  releaseBudgets(): void {
    for (const r of this.writeReservations) r.release();
    this.writeReservations.length = 0;
    this.readReservation?.release();
    this.readReservation = undefined;
    this.data.releaseLanding();
  }

  private expect(state: TaskState): void {
    if (this.phase !== state) throw new Error(`task ${this.itt}: in state ${this.phase}, expected ${state}`);
  }
}
