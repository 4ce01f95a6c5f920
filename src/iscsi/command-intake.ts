import { ScsiStatus } from '../scsi/command.js';
import type { Completion } from './completion.js';
import { DataLanding } from './data-landing.js';
import type { DataOutAssembly } from './data-out.js';
import type { PayloadLanding } from './framer.js';
import { decodeLun } from './lun.js';
import { RejectReason } from './opcodes.js';
import { AhsError, ittOf, parseScsiCommand, type InPdu, type ScsiCommandPdu } from './pdu.js';
import type { SessionHost } from './session-host.js';
import { IscsiTask, TaskState } from './task.js';

/**
 * SCSI Command PDUs (RFC 7143 §11.3): checked against what was negotiated (immediate data,
 * InitialR2T, the immediate-command bound), charged to the write budget for the data that comes
 * with them unasked, then delivered in CmdSN order to the SCSI core's prepare(), which answers at
 * once or says how much Data-Out it needs.
 */
export class CommandIntake {
  /** Pages the immediate data of the command being received lands in (only between its header and its handling). */
  private pendingLanding: { itt: number; landing: DataLanding } | undefined;

  constructor(
    private readonly s: SessionHost,
    private readonly dataOut: DataOutAssembly,
    private readonly completion: Completion,
  ) {}

  /**
   * Aligned pages of its own for a large write's immediate data (see data-landing.ts): the
   * framer reads the payload into them, the task keeps them for the rest.
   */
  landingFor(bhs: Buffer, length: number): PayloadLanding | undefined {
    this.dropPendingLanding();
    const edtl = bhs.readUInt32BE(20);
    const scsi = this.s.scsi;
    if ((bhs[1]! & 0x20) === 0 || length > edtl || !scsi) return undefined;
    const landing = DataLanding.take(edtl, scsi.dataOutAlignment(this.s.nexus, decodeLun(bhs, 8)));
    if (!landing) return undefined;
    this.pendingLanding = { itt: ittOf(bhs), landing };
    return landing.receive(0, length);
  }

  /** The command PDU it was for has been handled (or dropped): pages no task took go back. */
  dropPendingLanding(): void {
    this.pendingLanding?.landing.release();
    this.pendingLanding = undefined;
  }

  onScsiCommand(pdu: InPdu): void {
    const pending = this.pendingLanding?.itt === ittOf(pdu.bhs) ? this.pendingLanding.landing : undefined;
    this.pendingLanding = undefined;
    if (!this.admit(pdu, pending)) pending?.release();
  }

  /** False when the command never became a task (its landing, if any, is then the caller's to release). */
  private admit(pdu: InPdu, landing: DataLanding | undefined): boolean {
    const s = this.s;
    let cmd: ScsiCommandPdu;
    try {
      cmd = parseScsiCommand(pdu.bhs, pdu.ahs);
    } catch (err) {
      if (err instanceof AhsError) {
        s.conn.reject(RejectReason.INVALID_PDU_FIELD, pdu.bhs);
        return false;
      }
      throw err;
    }
    const refusal = this.refusal(cmd, pdu.data.length);
    if (refusal !== undefined) {
      s.conn.reject(refusal, pdu.bhs);
      return false;
    }
    if (!cmd.immediate && s.tasks.abortedBeforeArrival.delete(cmd.cmdSN)) {
      // Aborted by ABORT TASK before it arrived: consume its CmdSN, never run it.
      s.ordered(cmd.cmdSN, false, () => undefined);
      return false;
    }
    const task = new IscsiTask(cmd, s.nexus);
    if (landing) task.data.landIn(landing);
    this.reserveUnsolicited(task, pdu.data.length);
    for (const seg of pdu.data.segments) task.data.append(seg);
    task.lastDataAt = s.conn.now();
    s.tasks.add(task);
    if (!s.window.submit(cmd.cmdSN, cmd.immediate, () => this.deliver(task))) {
      s.tasks.forget(task);
      task.releaseBudgets();
      s.log.debug({ cmdSN: cmd.cmdSN }, 'SCSI command outside the CmdSN window; ignored');
    }
    return true;
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
