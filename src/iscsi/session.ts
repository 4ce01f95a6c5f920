import type { Logger } from 'pino';
import type { Nexus } from '../scsi/command.js';
import type { ScsiTargetCore } from '../scsi/target-core.js';
import { CmdSnWindow } from './cmdsn-window.js';
import { CommandIntake } from './command-intake.js';
import { Completion } from './completion.js';
import type { ConnectionLink, PduHandler } from './connection-link.js';
import { DataOutAssembly } from './data-out.js';
import type { PayloadLanding } from './framer.js';
import type { LoginOutcome } from './login.js';
import { Logout } from './logout.js';
import { answerNopOut } from './nop-out.js';
import { Op, RESERVED_TAG, RejectReason } from './opcodes.js';
import { ittOf, opcodeOf, parseTmfRequest, type InPdu } from './pdu.js';
import { SessionCounters, type SessionHost, type SessionLimits } from './session-host.js';
import type { SessionParams } from './session-params.js';
import { sessionKey, type SessionLike } from './session-table.js';
import { SessionText } from './session-text.js';
import type { IscsiTarget } from './target.js';
import { TaskManagement, abortOwnTasks } from './task-management.js';
import { TaskTable } from './task-table.js';
import { OPEN_ACCESS, lunViewFor } from './target-access.js';
import { LogEvent } from '../shared/log-events.js';

export interface SessionContext extends SessionLimits {
  readonly log: Logger;
  /** Answer a SendTargets request. */
  sendTargets(value: string, session: Session, conn: ConnectionLink): [string, string][];
  /** The session ended (logout, connection loss, reinstatement). */
  onClosed(session: Session): void;
  /** Every live session of the same target: a TARGET COLD RESET ends them all. */
  sessionsOf(target: IscsiTarget): Session[];
  readonly maxCmdWindow: number;
  readonly nexusIds: { next(): number };
}

/** Opcodes a discovery session takes (RFC 7143 §4.3): Text (SendTargets), Logout, NOP-Out. */
const DISCOVERY_OPCODES = new Set<number>([Op.TEXT_REQ, Op.LOGOUT_REQ, Op.NOP_OUT]);
/** Requests that carry an ITT the target answers to: the reserved 0xffffffff is refused on them. */
const TAGGED_REQUESTS = new Set<number>([Op.SCSI_CMD, Op.TMF_REQ, Op.TEXT_REQ, Op.LOGOUT_REQ]);

/**
 * One iSCSI session (ErrorRecoveryLevel 0, one connection) in full feature phase: its identity and
 * nexus, the CmdSN window and task table, and the dispatch of each PDU to the handler of its
 * family — command-intake.ts, data-out.ts, completion.ts, task-management.ts, session-text.ts,
 * logout.ts, nop-out.ts. `close()` is the one way a session ends.
 */
export class Session implements PduHandler, SessionLike, SessionHost {
  readonly key: string;
  readonly nexus: Nexus;
  readonly window: CmdSnWindow;
  readonly tasks: TaskTable;
  readonly log: Logger;
  readonly createdAt = Date.now();
  readonly counters = new SessionCounters();
  private readonly completion: Completion;
  private readonly dataOut: DataOutAssembly;
  private readonly intake: CommandIntake;
  private readonly tmf: TaskManagement;
  private readonly text: SessionText;
  private readonly logout: Logout;
  private closing: Promise<void> | undefined;
  private markClosed!: () => void;
  /** Resolves once the session has ended, whoever ended it (logout, the initiator's close, the target). */
  readonly whenClosed = new Promise<void>((resolve) => (this.markClosed = resolve));

  constructor(
    readonly tsih: number,
    readonly outcome: LoginOutcome,
    public conn: ConnectionLink,
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
    this.tasks = new TaskTable(this.window);
    this.log = ctx.log.child({ tsih, initiator: outcome.initiatorName, ...(outcome.target ? { target: outcome.target.iqn } : {}) });
    this.completion = new Completion(this);
    this.dataOut = new DataOutAssembly(this, this.completion);
    this.intake = new CommandIntake(this, this.dataOut, this.completion);
    this.tmf = new TaskManagement(this, (reason) => this.closeTargetSessions(reason));
    this.text = new SessionText(this, this.isDiscovery, (value) => ctx.sendTargets(value, this, this.conn));
    this.logout = new Logout(this, outcome.cid);
    this.bindConnection(conn);
    // The LUNs this initiator may address, as its ACL maps them (installed before the nexus is known,
    // so the first thing it sees is already the masked inventory).
    const target = outcome.target;
    if (target) target.scsi.setNexusView(this.nexus, lunViewFor(target.access ?? OPEN_ACCESS, outcome.initiatorName));
    // CLEAR TASK SET and the resets, from any session of the target, reach this one's tasks here.
    this.scsi?.addNexus(this.nexus, (lun) => abortOwnTasks(this, this.tasks.onLun(lun)));
  }

  get params(): SessionParams {
    return this.outcome.params;
  }

  get target(): IscsiTarget | undefined {
    return this.outcome.target;
  }

  get scsi(): ScsiTargetCore | undefined {
    return this.outcome.target?.scsi;
  }

  get limits(): SessionLimits {
    return this.ctx;
  }

  get isDiscovery(): boolean {
    return this.outcome.sessionType === 'Discovery';
  }

  bindConnection(conn: ConnectionLink): void {
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

  handlePdu(pdu: InPdu): void {
    try {
      this.dispatch(pdu);
    } finally {
      // A landing asked for at this PDU's header and not taken by a task goes back.
      this.intake.dropPendingLanding();
    }
  }

  private dispatch(pdu: InPdu): void {
    const op = opcodeOf(pdu.bhs);
    if (this.isDiscovery && !DISCOVERY_OPCODES.has(op)) {
      this.conn.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    if (TAGGED_REQUESTS.has(op) && ittOf(pdu.bhs) === RESERVED_TAG) {
      // 0xffffffff is reserved (RFC 7143 §11.2.1.8): a request carrying it has no tag to answer to.
      this.conn.reject(RejectReason.INVALID_PDU_FIELD, pdu.bhs);
      return;
    }
    switch (op) {
      case Op.SCSI_CMD:
        return this.intake.onScsiCommand(pdu);
      case Op.DATA_OUT:
        return this.dataOut.onDataOut(pdu);
      case Op.NOP_OUT:
        return answerNopOut(this, pdu);
      case Op.TMF_REQ: {
        const req = parseTmfRequest(pdu.bhs);
        this.ordered(req.cmdSN, req.immediate, () => this.background(this.tmf.onTmf(req), 'task management'));
        return;
      }
      case Op.TEXT_REQ:
        return this.text.handle(pdu);
      case Op.LOGOUT_REQ:
        return this.logout.handle(pdu);
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

  /** A data digest error dropped a Data-Out: its command cannot complete (ERL 0). */
  onDataDigestError(bhs: Buffer): void {
    this.intake.dropPendingLanding();
    this.dataOut.onDataDigestError(bhs);
  }

  /** A large Data-Out for a write with a landing: its payload is read straight into the task's pages. */
  dataLanding(bhs: Buffer, length: number): PayloadLanding | undefined {
    const op = opcodeOf(bhs);
    if (op === Op.DATA_OUT) return this.dataOut.landingFor(bhs, length);
    return op === Op.SCSI_CMD && !this.isDiscovery ? this.intake.landingFor(bhs, length) : undefined;
  }

  /** Watchdog tick: Data-Out deadlines. */
  onTick(now: number): void {
    this.dataOut.onTick(now);
  }

  background(work: Promise<void>, what: string): void {
    work.catch((err: unknown) => {
      this.log.error({ err }, `${what} failed; closing the connection`);
      this.conn.destroy('internal error');
    });
  }

  ordered(cmdSN: number, immediate: boolean, deliver: () => void): boolean {
    if (this.window.submit(cmdSN, immediate, deliver)) return true;
    this.log.debug({ cmdSN, exp: this.window.expCmdSN, max: this.window.maxCmdSN }, 'CmdSN outside the window; ignored');
    return false;
  }

  // ------------------------------------------------------------------ teardown

  onConnectionClosed(reason: string): void {
    this.close(reason).catch((err: unknown) => this.log.error({ err }, 'closing the session failed'));
  }

  /** End the session: abort its tasks (ErrorRecoveryLevel 0 keeps nothing), release the nexus and its LUN view. */
  close(reason: string): Promise<void> {
    this.closing ??= (async () => {
      this.log.info({ event: LogEvent.sessionClosed, reason, sessionType: this.outcome.sessionType, durationMs: Date.now() - this.createdAt }, 'session closed');
      this.window.clear();
      this.intake.dropPendingLanding();
      await abortOwnTasks(this, [...this.tasks.values()]);
      this.scsi?.removeNexus(this.nexus);
      if (!this.conn.isClosed) this.conn.destroy(reason);
      this.ctx.onClosed(this);
      this.markClosed();
    })();
    return this.closing;
  }

  private closeTargetSessions(reason: string): void {
    const target = this.target;
    if (!target) return;
    for (const s of this.ctx.sessionsOf(target)) {
      s.close(reason).catch((err: unknown) => this.log.error({ err, tsih: s.tsih }, 'closing a session failed'));
    }
  }
}
