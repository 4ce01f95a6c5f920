import type { Logger } from 'pino';
import { ScsiStatus, type Nexus, type ScsiResponse } from '../scsi/command.js';
import { SenseKey, buildFixedSense } from '../scsi/sense.js';
import { CmdSnWindow } from './cmdsn-window.js';
import type { Connection, PduHandler } from './connection.js';
import { sendDataIn, sendScsiResponse } from './responses.js';
import type { LoginOutcome } from './login.js';
import type { SessionParams } from './session-params.js';
import { LogoutResponse, Op, RESERVED_TAG, RejectReason, TmfFunction, TmfResponse } from './opcodes.js';
import {
  AhsError,
  encodeLogoutResponse,
  encodeNopIn,
  encodeR2t,
  encodeTextResponse,
  encodeTmfResponse,
  ittOf,
  opcodeOf,
  parseDataOut,
  parseLogoutRequest,
  parseNopOut,
  parseScsiCommand,
  parseTextRequest,
  parseTmfRequest,
  type InPdu,
  type TextRequestPdu,
  type TmfRequestPdu,
} from './pdu.js';
import { sessionKey, type SessionLike } from './session-table.js';
import type { IscsiTarget } from './target.js';
import { IscsiTask, TaskState } from './task.js';
import type { ByteBudget } from './byte-budget.js';
import { TextExchange } from './text-exchange.js';
import type { TextPair } from './text.js';

export interface SessionContext {
  readonly log: Logger;
  /** Answer a SendTargets request. */
  sendTargets(value: string, session: Session, conn: Connection): [string, string][];
  /** The session ended (logout, connection loss, reinstatement). */
  onClosed(session: Session): void;
  /** Every live session of the same target, for TMFs whose scope is the whole LU or target. */
  sessionsOf(target: IscsiTarget): Session[];
  readonly maxCmdWindow: number;
  readonly nexusIds: { next(): number };
  /** Target-wide bound on write data held in memory, with a per-session share (byte-budget.ts). */
  readonly writeBudget: ByteBudget;
  /** Target-wide bound on Data-In being read or queued, with a per-connection share. */
  readonly readBudget: ByteBudget;
  /** Immediate SCSI commands outstanding at once; more are rejected (RFC 7143 reason 06h). */
  readonly maxImmediateCommands: number;
  /** How long a write waits for Data-Out the initiator owes before it ends (ms). */
  readonly dataOutTimeoutMs: number;
}

/** ABORTED COMMAND sense (fixed format) for data that cannot be used. */
const DATA_PHASE_ERROR = buildFixedSense({ key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0x00 });
const PROTOCOL_SERVICE_CRC_ERROR = buildFixedSense({ key: SenseKey.ABORTED_COMMAND, asc: 0x47, ascq: 0x05 });
/** SPC-4 WRITE ERROR - UNEXPECTED UNSOLICITED DATA / NOT ENOUGH UNSOLICITED DATA (what LIO answers too). */
const UNEXPECTED_UNSOLICITED_DATA = buildFixedSense({ key: SenseKey.ABORTED_COMMAND, asc: 0x0c, ascq: 0x0c });
const NOT_ENOUGH_UNSOLICITED_DATA = buildFixedSense({ key: SenseKey.ABORTED_COMMAND, asc: 0x0c, ascq: 0x0d });
/** SPC-4 INITIATOR RESPONSE TIMEOUT: the Data-Out we asked for did not come. */
const INITIATOR_RESPONSE_TIMEOUT = buildFixedSense({ key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0x06 });

let nextTtt = 1;
function allocTtt(): number {
  nextTtt = nextTtt >= 0x7ffffffe ? 1 : nextTtt + 1;
  return nextTtt;
}

/**
 * One iSCSI session (ErrorRecoveryLevel 0, one connection): the command window,
 * the task table, Data-Out assembly with R2Ts, and the hand-off to the SCSI core.
 */
export class Session implements PduHandler, SessionLike {
  readonly key: string;
  readonly nexus: Nexus;
  readonly window: CmdSnWindow;
  readonly tasks = new Map<number, IscsiTask>();
  /** CmdSNs of tasks aborted before they arrived (ABORT TASK for a command still in flight). */
  private readonly abortedCmdSNs = new Set<number>();
  private readonly text: TextExchange;
  /** Immediate SCSI commands not ended yet (bounded by maxImmediateCommands). */
  private immediateOutstanding = 0;
  private closing: Promise<void> | undefined;
  readonly log: Logger;
  readonly createdAt = Date.now();

  constructor(
    readonly tsih: number,
    readonly outcome: LoginOutcome,
    public conn: Connection,
    private readonly ctx: SessionContext,
  ) {
    const targetName = outcome.target?.iqn ?? '';
    this.key = sessionKey(outcome.initiatorName, outcome.isid, targetName);
    const tpgt = outcome.target?.portalGroupTag ?? 1;
    this.nexus = {
      id: ctx.nexusIds.next(),
      initiatorPort: `${outcome.initiatorName},i,0x${outcome.isid.toString('hex')}`,
      targetPort: `${targetName},t,0x${tpgt.toString(16).padStart(4, '0')}`,
      relativeTargetPortId: tpgt,
    };
    this.window = new CmdSnWindow(outcome.cmdSN, ctx.maxCmdWindow);
    this.log = ctx.log.child({ tsih, initiator: outcome.initiatorName });
    this.text = new TextExchange({
      sendText: (req, data, f) => this.sendText(req, data, f),
      reject: (reason, bhs) => this.conn.reject(reason, bhs),
      answer: (pairs) => this.answerText(pairs),
      get maxSegment() {
        return outcome.params.maxXmitDataSegmentLength;
      },
      allocTtt,
    });
    this.bindConnection(conn);
    outcome.target?.scsi.addNexus(this.nexus);
  }

  get params(): SessionParams {
    return this.outcome.params;
  }

  get target(): IscsiTarget | undefined {
    return this.outcome.target;
  }

  get isDiscovery(): boolean {
    return this.outcome.sessionType === 'Discovery';
  }

  bindConnection(conn: Connection): void {
    this.conn = conn;
    const window = this.window;
    conn.sequences = {
      get expCmdSN() {
        return window.expCmdSN;
      },
      get maxCmdSN() {
        return window.maxCmdSN;
      },
    };
  }

  // ------------------------------------------------------------------ dispatch

  handlePdu(pdu: InPdu): void {
    const op = opcodeOf(pdu.bhs);
    if (this.isDiscovery && op !== Op.TEXT_REQ && op !== Op.LOGOUT_REQ && op !== Op.NOP_OUT) {
      this.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    if ((op === Op.SCSI_CMD || op === Op.TMF_REQ || op === Op.TEXT_REQ || op === Op.LOGOUT_REQ) && ittOf(pdu.bhs) === RESERVED_TAG) {
      // 0xffffffff is reserved (RFC 7143 §11.2.1.8): a request carrying it has no tag to answer to.
      this.conn.reject(RejectReason.INVALID_PDU_FIELD, pdu.bhs);
      return;
    }
    switch (op) {
      case Op.SCSI_CMD:
        return this.onScsiCommand(pdu);
      case Op.DATA_OUT:
        return this.onDataOut(pdu);
      case Op.NOP_OUT:
        return this.onNopOut(pdu);
      case Op.TMF_REQ: {
        const req = parseTmfRequest(pdu.bhs);
        this.ordered(req.cmdSN, req.immediate, () => this.background(this.onTmf(req), 'task management'));
        return;
      }
      case Op.TEXT_REQ: {
        const req = parseTextRequest(pdu.bhs);
        this.ordered(req.cmdSN, req.immediate, () => this.text.handle(req, pdu));
        return;
      }
      case Op.LOGOUT_REQ: {
        const req = parseLogoutRequest(pdu.bhs);
        if (req.reason > 2) {
          // Reason codes 3-127 are reserved (RFC 7143 §11.14.1).
          this.conn.reject(RejectReason.INVALID_PDU_FIELD, pdu.bhs);
          return;
        }
        this.ordered(req.cmdSN, req.immediate, () => this.background(this.onLogout(req.itt, req.reason, req.cid), 'logout'));
        return;
      }
      case Op.SNACK:
        // ErrorRecoveryLevel 0: no SNACK support (RFC 7143 §11.16).
        this.conn.reject(RejectReason.COMMAND_NOT_SUPPORTED, pdu.bhs);
        return;
      case Op.LOGIN_REQ:
        this.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
        return;
      default:
        this.conn.reject(RejectReason.COMMAND_NOT_SUPPORTED, pdu.bhs);
    }
  }

  /** Run an async handler whose failure must not go unnoticed (nor end the process). */
  private background(work: Promise<void>, what: string): void {
    work.catch((err: unknown) => {
      this.log.error({ err }, `${what} failed; closing the connection`);
      this.conn.destroy('internal error');
    });
  }

  private ordered(cmdSN: number, immediate: boolean, deliver: () => void): void {
    if (!this.window.submit(cmdSN, immediate, deliver)) {
      this.log.debug({ cmdSN, exp: this.window.expCmdSN, max: this.window.maxCmdSN }, 'CmdSN outside the window; ignored');
    }
  }

  // ------------------------------------------------------------------ SCSI commands

  private onScsiCommand(pdu: InPdu): void {
    let cmd;
    try {
      cmd = parseScsiCommand(pdu.bhs, pdu.ahs);
    } catch (err) {
      if (err instanceof AhsError) {
        this.conn.reject(RejectReason.INVALID_PDU_FIELD, pdu.bhs);
        return;
      }
      throw err;
    }
    const p = this.params;
    const imm = pdu.data.length;
    if (
      imm > 0 &&
      (!cmd.write || !p.immediateData || imm > p.firstBurstLength || imm > cmd.expectedDataTransferLength)
    ) {
      this.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    if (cmd.write && p.initialR2T && !cmd.final) {
      // InitialR2T=Yes forbids unsolicited Data-Out: F must be set on the command.
      this.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    if (this.tasks.has(cmd.itt)) {
      this.conn.reject(RejectReason.TASK_IN_PROGRESS, pdu.bhs);
      return;
    }
    if (cmd.immediate && this.immediateOutstanding >= this.ctx.maxImmediateCommands) {
      // Immediate commands bypass the CmdSN window; this bounds them (the initiator may resend).
      this.conn.reject(RejectReason.IMMEDIATE_COMMAND_REJECT, pdu.bhs);
      return;
    }
    if (!cmd.immediate && this.abortedCmdSNs.delete(cmd.cmdSN)) {
      // Aborted by ABORT TASK before it arrived: consume its CmdSN, never run it.
      this.ordered(cmd.cmdSN, false, () => undefined);
      return;
    }
    const task = new IscsiTask(cmd, this.nexus);
    // Immediate data and the unsolicited burst still to come are in memory (or soon will be): they
    // count against the write budget now. Without room the command is refused and its data dropped.
    const unsolicited = cmd.write ? (cmd.final ? imm : Math.min(cmd.expectedDataTransferLength, p.firstBurstLength)) : 0;
    if (unsolicited > 0) {
      const r = this.ctx.writeBudget.tryReserve(unsolicited, this);
      if (r) {
        task.writeReservations.push(r);
      } else {
        task.refused = true;
        task.data.discard();
      }
    }
    this.appendData(task, pdu.data.segments);
    task.lastDataAt = this.conn.now();
    if (cmd.immediate) this.immediateOutstanding++;
    this.tasks.set(cmd.itt, task);
    if (!this.window.submit(cmd.cmdSN, cmd.immediate, () => this.deliver(task))) {
      this.forget(task);
      task.releaseBudgets();
      this.log.debug({ cmdSN: cmd.cmdSN }, 'SCSI command outside the CmdSN window; ignored');
    }
  }

  /** Keep received data for a task (data-out-buffer.ts bounds what it holds by its payload). */
  private appendData(task: IscsiTask, segments: readonly Buffer[]): void {
    for (const seg of segments) task.data.append(seg);
  }

  /** The task leaves the session's books: task table, window, immediate count. */
  private forget(task: IscsiTask): void {
    if (this.tasks.get(task.itt) === task) this.tasks.delete(task.itt);
    if (task.countedInWindow) {
      task.countedInWindow = false;
      this.window.outstanding--;
    }
    if (task.pdu.immediate && !task.forgotten) this.immediateOutstanding--;
    task.forgotten = true;
  }

  private deliver(task: IscsiTask): void {
    // Aborted, or already answered while it waited for its turn (a Data-Out error or deadline).
    if (task.state === TaskState.Aborted || task.responded) return;
    if (!task.pdu.immediate) {
      task.countedInWindow = true;
      this.window.outstanding++;
    }
    if (task.refused) {
      // Out of write-buffer room when its data came: TASK SET FULL (BUSY when nothing else runs).
      task.state = TaskState.Done;
      const respond = () => this.finish(task, { status: ScsiStatus.TASK_SET_FULL });
      if (task.unsolicitedOpen) task.earlyResponse = respond;
      else respond();
      return;
    }
    const target = this.target!;
    const r = target.scsi.prepare(task.command);
    if (r.kind === 'respond') {
      task.state = TaskState.Done;
      const respond = () => this.finish(task, r.response);
      if (task.unsolicitedOpen) task.earlyResponse = respond;
      else respond();
      return;
    }
    task.state = TaskState.Collecting;
    task.needed = Math.min(r.dataOutLength, task.command.expectedDataOutLength);
    this.advanceDataOut(task);
  }

  /** Ask for more data, or start execution once everything needed is here. */
  private advanceDataOut(task: IscsiTask): void {
    if (task.state !== TaskState.Collecting) return;
    if (task.received >= task.needed && !task.unsolicitedOpen) {
      this.execute(task);
      return;
    }
    if (task.unsolicitedOpen) return; // R2Ts only after the unsolicited burst (DataSequenceInOrder).
    if (task.nextR2tOffset < task.received) task.nextR2tOffset = task.received;
    if (task.nextR2tOffset < task.needed) {
      // No R2T before the whole remainder is reserved in the target-wide write budget.
      if (!task.solicitedReservation) {
        const bytes = task.needed - task.nextR2tOffset;
        task.solicitedReservation = this.ctx.writeBudget.reserve(bytes, () => this.advanceDataOut(task), this, task.writeReservations);
        task.writeReservations.push(task.solicitedReservation);
      }
      if (!task.solicitedReservation.granted) return;
      if (task.r2ts.size === 0) task.lastDataAt = this.conn.now(); // the deadline runs from the first R2T
    }
    const p = this.params;
    while (task.r2ts.size < p.maxOutstandingR2T && task.nextR2tOffset < task.needed) {
      const length = Math.min(p.maxBurstLength, task.needed - task.nextR2tOffset);
      const ttt = allocTtt();
      task.r2ts.set(ttt, { ttt, offset: task.nextR2tOffset, length, received: 0, nextDataSN: 0 });
      this.conn.send(
        encodeR2t({
          itt: task.itt,
          ttt,
          lun: task.lun,
          statSN: this.conn.peekStatSN(),
          expCmdSN: this.window.expCmdSN,
          maxCmdSN: this.window.maxCmdSN,
          r2tSN: task.r2tSN++,
          bufferOffset: task.nextR2tOffset,
          desiredLength: length,
        }),
      );
      task.dataSN++;
      task.nextR2tOffset += length;
    }
  }

  private onDataOut(pdu: InPdu): void {
    const d = parseDataOut(pdu.bhs);
    const task = this.tasks.get(d.itt);
    if (!task || task.state === TaskState.Aborted || task.state === TaskState.Done) {
      // Data for a task that was aborted or already answered: the initiator may still be sending it.
      if (!task) this.log.debug({ itt: d.itt }, 'Data-Out for an unknown task; dropped');
      if (task?.state === TaskState.Done && d.final && d.ttt === RESERVED_TAG) this.endUnsolicited(task);
      return;
    }
    if (task.state === TaskState.Executing) {
      // All its data is here and it runs: this PDU is surplus. A Reject does not end the task
      // (RFC 7143 §7.2), which still gets its one response when it completes.
      this.conn.warn({ itt: d.itt }, 'Data-Out for a command that already has all its data');
      this.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    const len = pdu.data.length;
    if (d.bufferOffset !== task.received || d.bufferOffset + len > task.pdu.expectedDataTransferLength) {
      // We negotiate DataPDUInOrder=Yes and DataSequenceInOrder=Yes: data must arrive in offset order.
      return this.dataOutProtocolError(task, pdu, DATA_PHASE_ERROR, `Data-Out offset ${d.bufferOffset}, expected ${task.received}`);
    }
    if (d.ttt === RESERVED_TAG) {
      if (!task.unsolicitedOpen || d.bufferOffset + len > this.params.firstBurstLength) {
        return this.dataOutProtocolError(task, pdu, UNEXPECTED_UNSOLICITED_DATA, 'unsolicited Data-Out beyond FirstBurstLength');
      }
      if (d.dataSN !== task.unsolicitedDataSN++) {
        return this.dataOutProtocolError(task, pdu, DATA_PHASE_ERROR, `DataSN ${d.dataSN}, expected ${task.unsolicitedDataSN - 1}`);
      }
      this.appendData(task, pdu.data.segments);
      task.lastDataAt = this.conn.now();
      if (!d.final) return;
      // The unsolicited burst is min(FirstBurstLength, EDTL): F before that leaves the command short.
      const burst = Math.min(this.params.firstBurstLength, task.pdu.expectedDataTransferLength);
      if (task.received < burst) {
        return this.dataOutProtocolError(task, pdu, NOT_ENOUGH_UNSOLICITED_DATA, `unsolicited burst ended at ${task.received} of ${burst}`);
      }
      this.endUnsolicited(task);
      return;
    }
    const r2t = task.r2ts.get(d.ttt);
    if (!r2t || d.bufferOffset + len > r2t.offset + r2t.length) {
      return this.dataOutProtocolError(task, pdu, DATA_PHASE_ERROR, 'Data-Out outside any outstanding R2T');
    }
    if (d.dataSN !== r2t.nextDataSN++) {
      return this.dataOutProtocolError(task, pdu, DATA_PHASE_ERROR, `DataSN ${d.dataSN}, expected ${r2t.nextDataSN - 1}`);
    }
    this.appendData(task, pdu.data.segments);
    task.lastDataAt = this.conn.now();
    r2t.received += len;
    if (r2t.received >= r2t.length) {
      task.r2ts.delete(d.ttt);
      this.advanceDataOut(task);
    } else if (d.final) {
      // F ends the sequence: the rest of what the R2T asked for will never come (ERL 0 cannot ask again).
      this.dataOutProtocolError(task, pdu, DATA_PHASE_ERROR, `R2T sequence ended at ${r2t.received} of ${r2t.length} bytes`);
    }
  }

  /**
   * A Data-Out error (DataSN, offset, TTT, short burst) cannot be recovered inside the command at
   * ErrorRecoveryLevel 0: end the command with CHECK CONDITION, ABORTED COMMAND and the fitting
   * ASC; the session stays up and later Data-Out for it is dropped.
   */
  private dataOutProtocolError(task: IscsiTask, pdu: InPdu, sense: Buffer, why: string): void {
    this.conn.warn({ itt: task.itt, why }, 'Data-Out error; failing the command');
    this.terminateTask(task, sense, pdu.bhs);
  }

  /** A data digest error dropped a Data-Out: its command cannot complete (ERL 0). */
  onDataDigestError(bhs: Buffer): void {
    if (opcodeOf(bhs) !== Op.DATA_OUT) return;
    const task = this.tasks.get(bhs.readUInt32BE(16));
    if (task && (task.state === TaskState.Collecting || task.state === TaskState.Ordering)) {
      this.terminateTask(task, PROTOCOL_SERVICE_CRC_ERROR, bhs);
    }
  }

  /**
   * End a task that is still receiving data (never one that executes: it answers by itself) with
   * CHECK CONDITION, and let go of its data at once. `offending` is the Data-Out that ended it, if any.
   */
  private terminateTask(task: IscsiTask, sense: Buffer, offending?: Buffer): void {
    if (task.state !== TaskState.Collecting && task.state !== TaskState.Ordering) return;
    if (offending) {
      const d = parseDataOut(offending);
      if (d.final && d.ttt === RESERVED_TAG) task.unsolicitedOpen = false;
    }
    const inCore = task.state !== TaskState.Ordering;
    task.state = TaskState.Done;
    task.r2ts.clear();
    task.abort.abort();
    task.data.discard();
    if (inCore && this.target) this.target.scsi.abortTask(this.nexus, task.lun, task.itt);
    const respond = () => this.finish(task, { status: ScsiStatus.CHECK_CONDITION, sense });
    // Answer once the initiator has stopped sending unsolicited data for it.
    if (task.unsolicitedOpen) task.earlyResponse = respond;
    else respond();
  }

  /**
   * Watchdog tick: a write whose Data-Out has not come for dataOutTimeoutMs ends (its budget goes
   * back); one already answered in waiting for the end of its unsolicited burst gets that answer now.
   */
  onTick(now: number): void {
    const limit = this.ctx.dataOutTimeoutMs;
    for (const task of [...this.tasks.values()]) {
      if (!task.awaitingData || now - task.lastDataAt < limit) continue;
      this.conn.warn({ itt: task.itt, received: task.received, waitedMs: now - task.lastDataAt }, 'Data-Out did not come in time; failing the command');
      // The initiator is not sending: answer now rather than wait for the end of an unsolicited burst.
      task.unsolicitedOpen = false;
      const early = task.earlyResponse;
      task.earlyResponse = undefined;
      if (early) early();
      else this.terminateTask(task, INITIATOR_RESPONSE_TIMEOUT);
    }
  }

  private endUnsolicited(task: IscsiTask): void {
    task.unsolicitedOpen = false;
    if (task.earlyResponse) {
      const respond = task.earlyResponse;
      task.earlyResponse = undefined;
      respond();
      return;
    }
    this.advanceDataOut(task);
  }

  private execute(task: IscsiTask): void {
    task.state = TaskState.Executing;
    const dataIn = task.command.expectedDataInLength;
    if (dataIn > 0) {
      // Data-In waits its turn in the read budget: a connection whose initiator does not read what
      // it asked for cannot make the process hold more than its share (maxQueuedBytesPerConnection).
      const r = this.ctx.readBudget.reserve(dataIn, () => this.run(task), this.conn);
      task.readReservation = r;
      if (!r.granted) return;
    }
    this.run(task);
  }

  private run(task: IscsiTask): void {
    if (task.state !== TaskState.Executing) return;
    const dataOut = task.needed > 0 ? task.data.data.slice(0, task.needed) : undefined;
    const scsi = this.target!.scsi;
    task.execution = scsi.execute(task.command, dataOut).then(
      (response) => {
        if (task.state === TaskState.Aborted) {
          response.release?.();
          return;
        }
        task.state = TaskState.Done;
        this.finish(task, response);
      },
      (err: unknown) => {
        // The SCSI core turns every failure into a response; reaching here is a bug.
        this.log.error({ err, itt: task.itt }, 'SCSI core rejected a command');
        if (task.state === TaskState.Aborted) return;
        task.state = TaskState.Done;
        this.finish(task, { status: ScsiStatus.BUSY });
      },
    );
  }

  /** Send the command's outcome: Data-In with collapsed status, or a SCSI Response. */
  private finish(task: IscsiTask, response: ScsiResponse): void {
    if (task.responded) {
      // Exactly one response per task (RFC 7143 §7.2): a second one would confuse the initiator.
      this.log.error({ itt: task.itt, status: response.status }, 'second response for a task suppressed');
      response.release?.();
      return;
    }
    task.responded = true;
    this.forget(task);
    // The write data has been used (or dropped); the read share goes back once the socket has the data.
    const readReservation = task.readReservation;
    task.readReservation = undefined;
    task.releaseBudgets();
    let r: ScsiResponse =
      readReservation === undefined
        ? response
        : {
            ...response,
            release: () => {
              response.release?.();
              readReservation.release();
            },
          };
    if (r.status === ScsiStatus.TASK_SET_FULL) {
      // Out of resources: BUSY if nothing else is in flight, and narrow the window (the main
      // throttle): halve it, and never above what is still in flight, so a burst of refusals
      // brings the initiator down to a few commands at a time; each GOOD adds one back.
      if (this.tasks.size === 0) r = { ...r, status: ScsiStatus.BUSY };
      this.window.resize(Math.max(1, Math.min(this.tasks.size, Math.floor(this.window.windowSize / 2))));
    } else if (r.status === ScsiStatus.GOOD && this.window.windowSize < this.window.maxWindowSize) {
      this.window.resize(this.window.windowSize + 1);
    }
    if (this.conn.isClosed) {
      r.release?.();
      return;
    }
    if (task.pdu.read && r.dataIn && r.dataIn.length > 0 && task.command.expectedDataInLength > 0) {
      sendDataIn(this.conn, this.window, this.params, task, r);
      return;
    }
    const edtlIn = task.command.expectedDataInLength;
    const dataInLength = r.dataIn?.length ?? 0;
    let residual = 0;
    if (task.pdu.read && !task.pdu.write) residual = edtlIn - dataInLength;
    else if (task.pdu.write) {
      // The CDB's transfer length against EDTL: positive = underflow, negative = overflow.
      const wanted = r.dataOutTransferLength ?? task.needed;
      residual = task.command.expectedDataOutLength - wanted;
    }
    else if (dataInLength > 0) residual = -dataInLength; // data but no Read bit: overflow
    r.release?.();
    sendScsiResponse(this.conn, this.window, task, r, residual);
  }

  // ------------------------------------------------------------------ NOP, TMF, Text, Logout

  private onNopOut(pdu: InPdu): void {
    const req = parseNopOut(pdu.bhs);
    if (req.itt === RESERVED_TAG) return; // an answer to a ping that is no longer outstanding
    const answer = () =>
      this.conn.send(
        encodeNopIn({
          lun: req.lun,
          itt: req.itt,
          ttt: RESERVED_TAG,
          statSN: this.conn.takeStatSN(),
          expCmdSN: this.window.expCmdSN,
          maxCmdSN: this.window.maxCmdSN,
          dataLength: pdu.data.length,
        }),
        pdu.data,
      );
    this.ordered(req.cmdSN, req.immediate, answer);
  }

  private async onTmf(req: TmfRequestPdu): Promise<void> {
    const response = await this.taskManagement(req);
    if (this.conn.isClosed) return;
    this.conn.send(
      encodeTmfResponse({
        itt: req.itt,
        response,
        statSN: this.conn.takeStatSN(),
        expCmdSN: this.window.expCmdSN,
        maxCmdSN: this.window.maxCmdSN,
      }),
    );
    if (req.fn === TmfFunction.TARGET_COLD_RESET && response === TmfResponse.COMPLETE) {
      // A cold reset ends every session of the target, this one included, after the response.
      for (const s of this.ctx.sessionsOf(this.target!)) {
        s.close('target cold reset').catch((err: unknown) => this.log.error({ err, tsih: s.tsih }, 'closing a session failed'));
      }
    }
  }

  private async taskManagement(req: TmfRequestPdu): Promise<number> {
    const target = this.target;
    if (!target) return TmfResponse.REJECTED;
    const scsi = target.scsi;
    // Debug, not info: an initiator decides how many TMFs it sends, and the log is no place to count them.
    this.log.debug({ fn: req.fn, lun: req.lun, ref: req.referencedTaskTag }, 'task management');
    switch (req.fn) {
      case TmfFunction.ABORT_TASK: {
        const task = this.tasks.get(req.referencedTaskTag);
        if (!task || task.lun !== req.lun) {
          // Not here: if its CmdSN has not arrived yet, it must never run (RFC 7143 §11.5.1).
          if (this.window.isPending(req.refCmdSN)) {
            this.abortedCmdSNs.add(req.refCmdSN);
            return TmfResponse.COMPLETE;
          }
          return TmfResponse.TASK_DOES_NOT_EXIST;
        }
        await this.abortTasks([task]);
        return TmfResponse.COMPLETE;
      }
      case TmfFunction.ABORT_TASK_SET:
      case TmfFunction.CLEAR_TASK_SET: {
        if (!scsi.lunNumbers.includes(req.lun)) return TmfResponse.LUN_DOES_NOT_EXIST;
        const scope = req.fn === TmfFunction.ABORT_TASK_SET ? [this] : this.ctx.sessionsOf(target);
        await Promise.all(scope.map((s) => s.abortTasks([...s.tasks.values()].filter((t) => t.lun === req.lun))));
        if (req.fn === TmfFunction.ABORT_TASK_SET) scsi.abortTaskSet(this.nexus, req.lun);
        else scsi.clearTaskSet(this.nexus, req.lun);
        return TmfResponse.COMPLETE;
      }
      case TmfFunction.LOGICAL_UNIT_RESET: {
        if (!scsi.lunNumbers.includes(req.lun)) return TmfResponse.LUN_DOES_NOT_EXIST;
        await Promise.all(
          this.ctx.sessionsOf(target).map((s) => s.abortTasks([...s.tasks.values()].filter((t) => t.lun === req.lun))),
        );
        await scsi.lunReset(this.nexus, req.lun);
        return TmfResponse.COMPLETE;
      }
      case TmfFunction.TARGET_WARM_RESET:
      case TmfFunction.TARGET_COLD_RESET: {
        await Promise.all(this.ctx.sessionsOf(target).map((s) => s.abortTasks([...s.tasks.values()])));
        await scsi.targetReset(this.nexus, req.fn === TmfFunction.TARGET_WARM_RESET ? 'warm' : 'cold');
        return TmfResponse.COMPLETE;
      }
      case TmfFunction.CLEAR_ACA:
      case TmfFunction.TASK_REASSIGN:
      default:
        // No ACA, and task reassignment needs ErrorRecoveryLevel 2.
        return req.fn === TmfFunction.TASK_REASSIGN ? TmfResponse.REASSIGNMENT_NOT_SUPPORTED : TmfResponse.NOT_SUPPORTED;
    }
  }

  /**
   * Abort tasks without waiting for data the initiator will not send any more; wait only
   * for I/O already handed to the backstore, so nothing completes after the TMF response.
   */
  async abortTasks(tasks: IscsiTask[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const task of tasks) {
      const wasExecuting = task.state === TaskState.Executing;
      const inCore = task.state !== TaskState.Ordering;
      task.state = TaskState.Aborted;
      task.abort.abort();
      task.r2ts.clear();
      this.forget(task);
      if (inCore && this.target) this.target.scsi.abortTask(this.nexus, task.lun, task.itt);
      if (wasExecuting && task.execution) {
        waits.push(task.execution);
        // Its Data-Out stays in memory until the backstore lets go of it.
        const release = (): void => task.releaseBudgets();
        task.execution.then(release, release);
      } else {
        task.releaseBudgets();
      }
    }
    await Promise.all(waits);
  }

  /** The answer to a complete Text Request: SendTargets in discovery (and for its own target), else NotUnderstood. */
  private answerText(pairs: TextPair[]): TextPair[] {
    const reply: TextPair[] = [];
    for (const [k, v] of pairs) {
      if (k === 'SendTargets') {
        if (!this.isDiscovery && v === 'All') reply.push([k, 'Reject']);
        else reply.push(...this.ctx.sendTargets(v, this, this.conn));
      } else {
        reply.push([k, 'NotUnderstood']);
      }
    }
    return reply;
  }

  private sendText(req: TextRequestPdu, data: Buffer, f: { final: boolean; cont: boolean; ttt: number }): void {
    this.conn.send(
      encodeTextResponse({
        final: f.final,
        cont: f.cont,
        lun: req.lun,
        itt: req.itt,
        ttt: f.ttt,
        statSN: this.conn.takeStatSN(),
        expCmdSN: this.window.expCmdSN,
        maxCmdSN: this.window.maxCmdSN,
        dataLength: data.length,
      }),
      data,
    );
  }

  private async onLogout(itt: number, reason: number, cid: number): Promise<void> {
    // 0 = close the session, 1 = close connection CID (our only one), 2 = remove CID for recovery
    // (ERL 2 only). The CID matters for 1 and 2 (RFC 7143 §11.14.3): another one is "CID not found".
    let response: number;
    if (reason !== 0 && cid !== this.outcome.cid) response = LogoutResponse.CID_NOT_FOUND;
    else if (reason === 2) response = LogoutResponse.RECOVERY_NOT_SUPPORTED;
    else response = LogoutResponse.CLOSED;
    if (response === LogoutResponse.CLOSED) await this.drain(5000);
    if (this.conn.isClosed) return;
    this.conn.send(
      encodeLogoutResponse({
        itt,
        response,
        statSN: this.conn.takeStatSN(),
        expCmdSN: this.window.expCmdSN,
        maxCmdSN: this.window.maxCmdSN,
        time2Wait: 0,
        time2Retain: 0,
      }),
    );
    if (response === LogoutResponse.CLOSED) {
      this.log.info('logout');
      this.conn.close('logout');
    }
  }

  /** Wait (bounded) for the tasks being executed to finish. */
  private async drain(timeoutMs: number): Promise<void> {
    const running = [...this.tasks.values()].map((t) => t.execution).filter((p): p is Promise<void> => !!p);
    if (running.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(running), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  // ------------------------------------------------------------------ teardown

  onConnectionClosed(reason: string): void {
    this.close(reason).catch((err: unknown) => this.log.error({ err }, 'closing the session failed'));
  }

  /** End the session: abort its tasks (ErrorRecoveryLevel 0 keeps nothing), release the nexus. */
  close(reason: string): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      this.log.info({ reason }, 'session closed');
      this.window.clear();
      await this.abortTasks([...this.tasks.values()]);
      this.target?.scsi.removeNexus(this.nexus);
      if (!this.conn.isClosed) this.conn.destroy(reason);
      this.ctx.onClosed(this);
    })();
    return this.closing;
  }
}
