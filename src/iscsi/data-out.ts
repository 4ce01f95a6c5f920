import { ScsiStatus } from '../scsi/command.js';
import { Sense, type SenseReason } from '../scsi/sense-reasons.js';
import type { Completion } from './completion.js';
import { DataLanding } from './data-landing.js';
import type { PayloadLanding } from './framer.js';
import { Op, RESERVED_TAG, RejectReason } from './opcodes.js';
import { encodeR2t, opcodeOf, parseDataOut, type InPdu } from './pdu.js';
import type { SessionHost } from './session-host.js';
import { TaskState, type IscsiTask } from './task.js';
import { allocTtt } from './transfer-tag.js';

/**
 * Data-Out of write commands (RFC 7143 §11.7, §11.8): the unsolicited burst, then R2Ts for the rest
 * (MaxBurstLength each, at most MaxOutstandingR2T at once), each answered by a sequence of Data-Out
 * checked for TTT, offset and DataSN. No R2T goes out before the whole remainder is reserved in the
 * write budget. At ErrorRecoveryLevel 0 a sequence error ends the command (CHECK CONDITION, the sense
 * formatted by the core per the LU's D_SENSE); so does Data-Out that does not come within dataOutTimeout.
 */
export class DataOutAssembly {
  constructor(
    private readonly s: SessionHost,
    private readonly completion: Completion,
  ) {}

  /** Ask for more data, or start execution once everything needed is here. */
  advance(task: IscsiTask): void {
    if (task.state !== TaskState.Collecting) return;
    if (task.received >= task.needed && !task.unsolicitedOpen) {
      this.completion.execute(task);
      return;
    }
    if (task.unsolicitedOpen) return; // R2Ts only after the unsolicited burst (DataSequenceInOrder).
    if (task.nextR2tOffset < task.received) task.nextR2tOffset = task.received;
    if (task.nextR2tOffset < task.needed) {
      // No R2T before the whole remainder is reserved in the target-wide write budget.
      if (!task.solicitedReservation) {
        const bytes = task.needed - task.nextR2tOffset;
        task.solicitedReservation = this.s.limits.writeBudget.reserve(bytes, () => this.advance(task), this.s, task.writeReservations);
        task.writeReservations.push(task.solicitedReservation);
      }
      if (!task.solicitedReservation.granted) {
        task.budgetWaitSince ??= this.s.conn.now();
        return;
      }
      if (task.r2ts.size === 0) task.lastDataAt = this.s.conn.now(); // the deadline runs from the first R2T
      if (task.r2tSN === 0) this.offerLanding(task);
    }
    this.sendR2ts(task);
  }

  /**
   * Before the first R2T of a write: pages for its data (data-landing.ts), so the solicited Data-Out
   * is received into memory that is reused and, for a large write, that the device can take as it is.
   * Without pages to spare it takes the usual path (received buffers, bounced below).
   */
  private offerLanding(task: IscsiTask): void {
    if (task.data.hasLanding) return;
    const alignment = this.s.scsi?.dataOutAlignment(this.s.nexus, task.lun) ?? 1;
    const landing = DataLanding.take(task.needed, alignment);
    if (landing) task.data.landIn(landing);
  }

  /** Where the payload of the Data-Out whose header is `bhs` should be received (see framer.ts), if its task has a landing. */
  landingFor(bhs: Buffer, length: number): PayloadLanding | undefined {
    const task = this.s.tasks.get(bhs.readUInt32BE(16));
    if (task?.state !== TaskState.Collecting) return undefined;
    return task.data.landingFor(bhs.readUInt32BE(40), length);
  }

  private sendR2ts(task: IscsiTask): void {
    const { conn, params: p, window } = this.s;
    while (task.r2ts.size < p.maxOutstandingR2T && task.nextR2tOffset < task.needed) {
      const length = Math.min(p.maxBurstLength, task.needed - task.nextR2tOffset);
      const ttt = allocTtt();
      task.r2ts.set(ttt, { ttt, offset: task.nextR2tOffset, length, received: 0, nextDataSN: 0 });
      conn.send(
        encodeR2t({
          itt: task.itt,
          ttt,
          lun: task.lun,
          statSN: conn.peekStatSN(),
          expCmdSN: window.expCmdSN,
          maxCmdSN: window.maxCmdSN,
          r2tSN: task.r2tSN++,
          bufferOffset: task.nextR2tOffset,
          desiredLength: length,
        }),
      );
      task.dataSN++;
      task.nextR2tOffset += length;
    }
  }

  onDataOut(pdu: InPdu): void {
    const s = this.s;
    const d = parseDataOut(pdu.bhs);
    const task = s.tasks.get(d.itt);
    if (!task || task.state === TaskState.Aborted || task.state === TaskState.Done) {
      // Data for a task that was aborted or already answered: the initiator may still be sending it.
      if (!task) s.log.debug({ itt: d.itt }, 'Data-Out for an unknown task; dropped');
      if (task?.state === TaskState.Done && d.final && d.ttt === RESERVED_TAG) this.endUnsolicited(task);
      return;
    }
    if (task.state === TaskState.Executing) {
      // All its data is here and it runs: this PDU is surplus. A Reject does not end the task
      // (RFC 7143 §7.2), which still gets its one response when it completes.
      s.conn.warn({ itt: d.itt }, 'Data-Out for a command that already has all its data');
      s.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    const len = pdu.data.length;
    if (d.bufferOffset !== task.received || d.bufferOffset + len > task.pdu.expectedDataTransferLength) {
      // We negotiate DataPDUInOrder=Yes and DataSequenceInOrder=Yes: data must arrive in offset order.
      return this.sequenceError(task, pdu, Sense.dataPhaseError, `Data-Out offset ${d.bufferOffset}, expected ${task.received}`);
    }
    if (d.ttt === RESERVED_TAG) {
      if (!task.unsolicitedOpen || d.bufferOffset + len > s.params.firstBurstLength) {
        return this.sequenceError(task, pdu, Sense.unexpectedUnsolicitedData, 'unsolicited Data-Out beyond FirstBurstLength');
      }
      if (d.dataSN !== task.unsolicitedDataSN++) {
        return this.sequenceError(task, pdu, Sense.dataPhaseError, `DataSN ${d.dataSN}, expected ${task.unsolicitedDataSN - 1}`);
      }
      this.keep(task, pdu);
      if (!d.final) return;
      // The unsolicited burst is min(FirstBurstLength, EDTL): F before that leaves the command short.
      const burst = Math.min(s.params.firstBurstLength, task.pdu.expectedDataTransferLength);
      if (task.received < burst) {
        return this.sequenceError(task, pdu, Sense.notEnoughUnsolicitedData, `unsolicited burst ended at ${task.received} of ${burst}`);
      }
      this.endUnsolicited(task);
      return;
    }
    const r2t = task.r2ts.get(d.ttt);
    if (!r2t || d.bufferOffset + len > r2t.offset + r2t.length) {
      return this.sequenceError(task, pdu, Sense.dataPhaseError, 'Data-Out outside any outstanding R2T');
    }
    if (d.dataSN !== r2t.nextDataSN++) {
      return this.sequenceError(task, pdu, Sense.dataPhaseError, `DataSN ${d.dataSN}, expected ${r2t.nextDataSN - 1}`);
    }
    this.keep(task, pdu);
    r2t.received += len;
    if (r2t.received >= r2t.length) {
      task.r2ts.delete(d.ttt);
      this.advance(task);
    } else if (d.final) {
      // F ends the sequence: the rest of what the R2T asked for will never come (ERL 0 cannot ask again).
      this.sequenceError(task, pdu, Sense.dataPhaseError, `R2T sequence ended at ${r2t.received} of ${r2t.length} bytes`);
    }
  }

  /** A data digest error dropped a Data-Out: its command cannot complete (ERL 0). */
  onDataDigestError(bhs: Buffer): void {
    if (opcodeOf(bhs) !== Op.DATA_OUT) return;
    const task = this.s.tasks.get(bhs.readUInt32BE(16));
    if (task) this.fail(task, Sense.protocolServiceCrcError, bhs);
  }

  /**
   * Watchdog tick: a write whose Data-Out has not come for dataOutTimeoutMs ends (its budget goes
   * back); one already answered in waiting for the end of its unsolicited burst gets that answer now.
   */
  onTick(now: number): void {
    const limit = this.s.limits.dataOutTimeoutMs;
    for (const task of [...this.s.tasks.values()]) {
      if (this.waitedTooLongForBudget(task, now, limit)) continue;
      if (!task.awaitingData || now - task.lastDataAt < limit) continue;
      this.s.conn.warn({ itt: task.itt, received: task.received, waitedMs: now - task.lastDataAt }, 'Data-Out did not come in time; failing the command');
      // The initiator is not sending: answer now rather than wait for the end of an unsolicited burst.
      task.unsolicitedOpen = false;
      const early = task.earlyResponse;
      task.earlyResponse = undefined;
      if (early) early();
      else this.fail(task, Sense.initiatorResponseTimeout);
    }
  }

  /** Keep a Data-Out's payload (data-out-buffer.ts bounds what it holds by its payload). */
  private keep(task: IscsiTask, pdu: InPdu): void {
    for (const seg of pdu.data.segments) task.data.append(seg);
    task.lastDataAt = this.s.conn.now();
  }

  /** The initiator's F bit (or our deadline) ended the unsolicited burst. */
  private endUnsolicited(task: IscsiTask): void {
    task.unsolicitedOpen = false;
    if (task.earlyResponse) {
      const respond = task.earlyResponse;
      task.earlyResponse = undefined;
      respond();
      return;
    }
    this.advance(task);
  }

  /**
   * A Data-Out error (DataSN, offset, TTT, short burst) cannot be recovered inside the command at
   * ErrorRecoveryLevel 0: end the command with CHECK CONDITION, ABORTED COMMAND and the fitting
   * ASC; the session stays up and later Data-Out for it is dropped.
   */
  private sequenceError(task: IscsiTask, pdu: InPdu, reason: SenseReason, why: string): void {
    this.s.conn.warn({ itt: task.itt, why }, 'Data-Out error; failing the command');
    this.fail(task, reason, pdu.bhs);
  }

  /**
   * A write that has waited dataOutTimeoutMs for room in the write budget ends TASK SET FULL (BUSY
   * when nothing else runs), like a command the bounce pool cannot serve in time: the wait is
   * bounded, and an older write queued for room can never be left waiting on newer ones that hold
   * room but wait behind it in the task set. The initiator retries it.
   */
  private waitedTooLongForBudget(task: IscsiTask, now: number, limit: number): boolean {
    if (!task.receiving || task.solicitedReservation?.granted !== false || task.budgetWaitSince === undefined) return false;
    if (now - task.budgetWaitSince < limit) return false;
    this.s.conn.warn({ itt: task.itt, needed: task.needed, waitedMs: now - task.budgetWaitSince }, 'no room in the write budget in time; TASK SET FULL');
    task.fail();
    this.completion.respondAfterUnsolicited(task, { status: ScsiStatus.TASK_SET_FULL });
    return true;
  }

  /**
   * End a task that is still receiving data (never one that executes: it answers by itself) with
   * CHECK CONDITION, and let go of its data at once. The sense is in the LU's format (D_SENSE).
   * `offending` is the Data-Out that ended it, if any: its F bit may close the unsolicited burst.
   */
  private fail(task: IscsiTask, reason: SenseReason, offending?: Buffer): void {
    if (!task.receiving) return;
    if (offending) {
      const d = parseDataOut(offending);
      if (d.final && d.ttt === RESERVED_TAG) task.unsolicitedOpen = false;
    }
    task.fail();
    const sense = this.s.scsi?.senseFor(task.lun, reason, this.s.nexus);
    this.completion.respondAfterUnsolicited(task, { status: ScsiStatus.CHECK_CONDITION, sense });
  }
}
