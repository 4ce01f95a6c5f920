import { ScsiStatus } from '../scsi/command.js';
import type { Completion } from './completion.js';
import type { DataOutAssembly } from './data-out.js';
import { RejectReason } from './opcodes.js';
import { AhsError, parseScsiCommand, type InPdu, type ScsiCommandPdu } from './pdu.js';
import type { SessionHost } from './session-host.js';
import { IscsiTask, TaskState } from './task.js';

/**
 * SCSI Command PDUs (RFC 7143 §11.3): checked against what was negotiated (immediate data,
 * InitialR2T, the immediate-command bound), charged to the write budget for the data that comes
 * with them unasked, then delivered in CmdSN order to the SCSI core's prepare(), which answers at
 * once or says how much Data-Out it needs.
 */
export class CommandIntake {
  constructor(
    private readonly s: SessionHost,
    private readonly dataOut: DataOutAssembly,
    private readonly completion: Completion,
  ) {}

  onScsiCommand(pdu: InPdu): void {
    const s = this.s;
    let cmd: ScsiCommandPdu;
    try {
      cmd = parseScsiCommand(pdu.bhs, pdu.ahs);
    } catch (err) {
      if (err instanceof AhsError) {
        s.conn.reject(RejectReason.INVALID_PDU_FIELD, pdu.bhs);
        return;
      }
      throw err;
    }
    const refusal = this.refusal(cmd, pdu.data.length);
    if (refusal !== undefined) {
      s.conn.reject(refusal, pdu.bhs);
      return;
    }
    if (!cmd.immediate && s.tasks.abortedBeforeArrival.delete(cmd.cmdSN)) {
      // Aborted by ABORT TASK before it arrived: consume its CmdSN, never run it.
      s.ordered(cmd.cmdSN, false, () => undefined);
      return;
    }
    const task = new IscsiTask(cmd, s.nexus);
    this.reserveUnsolicited(task, pdu.data.length);
    for (const seg of pdu.data.segments) task.data.append(seg);
    task.lastDataAt = s.conn.now();
    s.tasks.add(task);
    if (!s.window.submit(cmd.cmdSN, cmd.immediate, () => this.deliver(task))) {
      s.tasks.forget(task);
      task.releaseBudgets();
      s.log.debug({ cmdSN: cmd.cmdSN }, 'SCSI command outside the CmdSN window; ignored');
    }
  }

  /** The Reject reason for a command the session cannot take, or undefined. */
  private refusal(cmd: ScsiCommandPdu, imm: number): number | undefined {
    const p = this.s.params;
    if (imm > 0 && (!cmd.write || !p.immediateData || imm > p.firstBurstLength || imm > cmd.expectedDataTransferLength)) {
      return RejectReason.PROTOCOL_ERROR;
    }
    // InitialR2T=Yes forbids unsolicited Data-Out: F must be set on the command.
    if (cmd.write && p.initialR2T && !cmd.final) return RejectReason.PROTOCOL_ERROR;
    if (this.s.tasks.has(cmd.itt)) return RejectReason.TASK_IN_PROGRESS;
    // Immediate commands bypass the CmdSN window; this bounds them (the initiator may resend).
    if (cmd.immediate && this.s.tasks.immediateOutstanding >= this.s.limits.maxImmediateCommands) {
      return RejectReason.IMMEDIATE_COMMAND_REJECT;
    }
    return undefined;
  }

  /**
   * Immediate data and the unsolicited burst still to come are in memory (or soon will be): they
   * count against the write budget now. Without room the command is refused and its data dropped.
   */
  private reserveUnsolicited(task: IscsiTask, imm: number): void {
    const cmd = task.pdu;
    const unsolicited = cmd.write ? (cmd.final ? imm : Math.min(cmd.expectedDataTransferLength, this.s.params.firstBurstLength)) : 0;
    if (unsolicited <= 0) return;
    const r = this.s.limits.writeBudget.tryReserve(unsolicited, this.s);
    if (r) {
      task.writeReservations.push(r);
    } else {
      task.refused = true;
      task.data.discard();
    }
  }

  /** The command's CmdSN turn: the SCSI core prepares it, then its Data-Out is gathered (or it answers). */
  private deliver(task: IscsiTask): void {
    // Aborted, or already answered while it waited for its turn (a Data-Out error or deadline).
    if (task.state !== TaskState.Ordering) return;
    if (!task.pdu.immediate) this.s.tasks.countInWindow(task);
    if (task.refused) {
      // Out of write-buffer room when its data came: TASK SET FULL (BUSY when nothing else runs).
      task.decide();
      this.completion.respondAfterUnsolicited(task, { status: ScsiStatus.TASK_SET_FULL });
      return;
    }
    const r = this.s.scsi!.prepare(task.command);
    if (r.kind === 'respond') {
      task.decide();
      this.completion.respondAfterUnsolicited(task, r.response);
      return;
    }
    task.collect(Math.min(r.dataOutLength, task.command.expectedDataOutLength));
    this.dataOut.advance(task);
  }
}
