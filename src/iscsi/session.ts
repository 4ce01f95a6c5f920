import type { Logger } from 'pino';
import { ScsiStatus, type Nexus, type ScsiResponse } from '../scsi/command.js';
import { SenseKey, buildFixedSense } from '../scsi/sense.js';
import { CmdSnWindow } from './cmdsn-window.js';
import type { Connection, PduHandler } from './connection.js';
import { sendDataIn, sendScsiResponse } from './responses.js';
import type { LoginOutcome } from './login.js';
import type { SessionParams } from './session-params.js';
import { Op, RESERVED_TAG, RejectReason, TmfFunction, TmfResponse } from './opcodes.js';
import {
  AhsError,
  encodeLogoutResponse,
  encodeNopIn,
  encodeR2t,
  encodeTextResponse,
  encodeTmfResponse,
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
import type { WriteBudget } from './write-budget.js';
import { TextAccumulator, encodeTextPairs, splitTextResponse } from './text.js';
import { readTextRound } from './text-round.js';

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
  /** Target-wide bound on solicited Data-Out held in memory (see write-budget.ts). */
  readonly writeBudget: WriteBudget;
}

interface TextContinuation {
  readonly ttt: number;
  readonly chunks: Buffer[];
  index: number;
}

/** ABORTED COMMAND sense (fixed format) for data that cannot be used. */
const DATA_PHASE_ERROR = buildFixedSense({ key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0x00 });
const PROTOCOL_SERVICE_CRC_ERROR = buildFixedSense({ key: SenseKey.ABORTED_COMMAND, asc: 0x47, ascq: 0x05 });

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
  private textIn = new TextAccumulator();
  private textOut: TextContinuation | undefined;
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
    switch (op) {
      case Op.SCSI_CMD:
        return this.onScsiCommand(pdu);
      case Op.DATA_OUT:
        return this.onDataOut(pdu);
      case Op.NOP_OUT:
        return this.onNopOut(pdu);
      case Op.TMF_REQ: {
        const req = parseTmfRequest(pdu.bhs);
        this.ordered(req.cmdSN, req.immediate, () => void this.onTmf(req));
        return;
      }
      case Op.TEXT_REQ: {
        const req = parseTextRequest(pdu.bhs);
        this.ordered(req.cmdSN, req.immediate, () => this.onText(req, pdu));
        return;
      }
      case Op.LOGOUT_REQ: {
        const req = parseLogoutRequest(pdu.bhs);
        this.ordered(req.cmdSN, req.immediate, () => void this.onLogout(req.itt, req.reason));
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
    if (!cmd.immediate && this.abortedCmdSNs.delete(cmd.cmdSN)) {
      // Aborted by ABORT TASK before it arrived: consume its CmdSN, never run it.
      this.ordered(cmd.cmdSN, false, () => undefined);
      return;
    }
    const task = new IscsiTask(cmd, this.nexus);
    for (const seg of pdu.data.segments) task.data.append(seg);
    this.tasks.set(cmd.itt, task);
    if (!this.window.submit(cmd.cmdSN, cmd.immediate, () => this.deliver(task))) {
      this.tasks.delete(cmd.itt);
      this.log.debug({ cmdSN: cmd.cmdSN }, 'SCSI command outside the CmdSN window; ignored');
    }
  }

  private deliver(task: IscsiTask): void {
    if (task.state === TaskState.Aborted) return;
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
      task.writeReservation ??= this.ctx.writeBudget.reserve(task.needed - task.nextR2tOffset, () => this.advanceDataOut(task));
      if (!task.writeReservation.granted) return;
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
    const len = pdu.data.length;
    if (d.bufferOffset !== task.received || d.bufferOffset + len > task.pdu.expectedDataTransferLength) {
      // We negotiate DataPDUInOrder=Yes and DataSequenceInOrder=Yes: data must arrive in offset order.
      return this.dataOutProtocolError(pdu, `Data-Out offset ${d.bufferOffset}, expected ${task.received}`);
    }
    if (d.ttt === RESERVED_TAG) {
      if (!task.unsolicitedOpen || d.bufferOffset + len > this.params.firstBurstLength) {
        return this.dataOutProtocolError(pdu, 'unsolicited Data-Out beyond FirstBurstLength');
      }
      if (d.dataSN !== task.unsolicitedDataSN++) {
        return this.dataOutProtocolError(pdu, `DataSN ${d.dataSN}, expected ${task.unsolicitedDataSN - 1}`);
      }
      for (const seg of pdu.data.segments) task.data.append(seg);
      if (d.final) this.endUnsolicited(task);
      return;
    }
    const r2t = task.r2ts.get(d.ttt);
    if (!r2t || d.bufferOffset + len > r2t.offset + r2t.length) {
      return this.dataOutProtocolError(pdu, 'Data-Out outside any outstanding R2T');
    }
    if (d.dataSN !== r2t.nextDataSN++) {
      return this.dataOutProtocolError(pdu, `DataSN ${d.dataSN}, expected ${r2t.nextDataSN - 1}`);
    }
    for (const seg of pdu.data.segments) task.data.append(seg);
    r2t.received += len;
    if (d.final || r2t.received >= r2t.length) {
      task.r2ts.delete(d.ttt);
      this.advanceDataOut(task);
    }
  }

  /**
   * A Data-Out sequence error (DataSN, offset, TTT) cannot be recovered inside the
   * command at ErrorRecoveryLevel 0: end the command with CHECK CONDITION, ABORTED
   * COMMAND / DATA PHASE ERROR; the session stays up and later Data-Out for it is dropped.
   */
  private dataOutProtocolError(pdu: InPdu, why: string): void {
    const task = this.tasks.get(pdu.bhs.readUInt32BE(16));
    this.log.warn({ itt: pdu.bhs.readUInt32BE(16), why }, 'Data-Out sequence error; failing the command');
    if (task) this.terminateTask(task, DATA_PHASE_ERROR, pdu.bhs);
  }

  /** A data digest error dropped a Data-Out: its command cannot complete (ERL 0). */
  onDataDigestError(bhs: Buffer): void {
    if (opcodeOf(bhs) !== Op.DATA_OUT) return;
    const task = this.tasks.get(bhs.readUInt32BE(16));
    if (task && (task.state === TaskState.Collecting || task.state === TaskState.Ordering)) {
      this.terminateTask(task, PROTOCOL_SERVICE_CRC_ERROR, bhs);
    }
  }

  private terminateTask(task: IscsiTask, sense: Buffer, offending: Buffer): void {
    const d = parseDataOut(offending);
    if (d.final && d.ttt === RESERVED_TAG) task.unsolicitedOpen = false;
    const inCore = task.state !== TaskState.Ordering;
    task.state = TaskState.Done;
    task.r2ts.clear();
    task.abort.abort();
    if (inCore && this.target) this.target.scsi.abortTask(this.nexus, task.lun, task.itt);
    const respond = () => this.finish(task, { status: ScsiStatus.CHECK_CONDITION, sense });
    // Answer once the initiator has stopped sending unsolicited data for it.
    if (task.unsolicitedOpen) task.earlyResponse = respond;
    else respond();
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
    const dataOut = task.needed > 0 ? task.data.slice(0, task.needed) : undefined;
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
    this.tasks.delete(task.itt);
    task.writeReservation?.release();
    let r = response;
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
      for (const s of this.ctx.sessionsOf(this.target!)) void s.close('target cold reset');
    }
  }

  private async taskManagement(req: TmfRequestPdu): Promise<number> {
    const target = this.target;
    if (!target) return TmfResponse.REJECTED;
    const scsi = target.scsi;
    this.log.info({ fn: req.fn, lun: req.lun, ref: req.referencedTaskTag }, 'task management');
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
      this.tasks.delete(task.itt);
      if (inCore && this.target) this.target.scsi.abortTask(this.nexus, task.lun, task.itt);
      const reservation = task.writeReservation;
      if (wasExecuting && task.execution) {
        waits.push(task.execution);
        // Its Data-Out stays in memory until the backstore lets go of it.
        if (reservation) void task.execution.finally(() => reservation.release());
      } else {
        reservation?.release();
      }
    }
    await Promise.all(waits);
  }

  private onText(req: TextRequestPdu, pdu: InPdu): void {
    if (req.ttt !== RESERVED_TAG) {
      // Continuation of our multi-PDU answer.
      if (!this.textOut || this.textOut.ttt !== req.ttt) {
        this.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
        return;
      }
      this.sendTextChunk(req);
      return;
    }
    this.textOut = undefined;
    const acc = readTextRound(this.textIn, pdu.data.toBuffer(), req.cont);
    if (!acc.ok) {
      this.textIn = new TextAccumulator();
      this.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    if (acc.pairs === undefined) {
      // The initiator continues its request: ask for the rest with an empty response.
      const ttt = allocTtt();
      this.textOut = { ttt, chunks: [], index: 0 };
      this.sendText(req, Buffer.alloc(0), { final: false, cont: false, ttt });
      return;
    }
    const reply: [string, string][] = [];
    for (const [k, v] of acc.pairs) {
      if (k === 'SendTargets') {
        if (!this.isDiscovery && v === 'All') reply.push([k, 'Reject']);
        else reply.push(...this.ctx.sendTargets(v, this, this.conn));
      } else {
        reply.push([k, 'NotUnderstood']);
      }
    }
    const chunks = splitTextResponse(encodeTextPairs(reply), this.params.maxXmitDataSegmentLength);
    this.textOut = { ttt: chunks.length > 1 ? allocTtt() : RESERVED_TAG, chunks, index: 0 };
    this.sendTextChunk(req);
  }

  private sendTextChunk(req: TextRequestPdu): void {
    const out = this.textOut!;
    const chunk = out.chunks[out.index] ?? Buffer.alloc(0);
    out.index++;
    const last = out.index >= out.chunks.length;
    this.sendText(req, chunk, { final: last, cont: !last, ttt: last ? RESERVED_TAG : out.ttt });
    if (last) this.textOut = undefined;
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

  private async onLogout(itt: number, reason: number): Promise<void> {
    // 0 = close the session, 1 = close this connection (the session's only one), 2 = recovery (ERL 2 only).
    const response = reason === 2 ? 2 : 0;
    if (response === 0) await this.drain(5000);
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
    if (response === 0) {
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
    void this.close(reason);
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
