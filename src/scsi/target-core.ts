import type { SgVector } from '../block/sg.js';
import { ScsiStatus, type Nexus, type PrepareResult, type ScsiCommand, type ScsiResponse } from './command.js';
import type { CommandHandler, ParsedCommand, TargetInfo } from './handler.js';
import type { LogicalUnit } from './logical-unit.js';
import { CommandTable } from './opcodes.js';
import { RESERVATION_CONFLICT } from './pr/pr-sense.js';
import { reservationConflict } from './pr/access.js';
import { status, type Outcome } from './outcome.js';
import { toResponse } from './response.js';
import type { SenseFormat } from './sense.js';
import { Asc, isSenseReason, Sense, type AscPair, type SenseReason } from './sense-reasons.js';
import { createStats, recordCommand, type ScsiStats } from './stats.js';
import { Task } from './task.js';
import { MEDIUM_ACCESS_OPCODES } from './sbc/removable.js';
import { ExtraSense } from './spc/extra-sense.js';

/** The subset of a pino logger the core uses. */
export interface ScsiLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ScsiTargetCoreOptions {
  targetName: string;
  luns: LogicalUnit[];
  logger?: ScsiLogger;
  /** SPC protocol identifier of the transport for VPD 83h target port designators (default 5h, iSCSI). */
  protocolId?: number;
}

export type AbortTaskResult = 'complete' | 'notFound';
export type TaskSetResult = 'complete' | 'noLun';

const PROTOCOL_ID_ISCSI = 0x5;
const TASK_ABORTED = status(ScsiStatus.TASK_ABORTED);
const SECONDS_PER_MS = 1e-3;

/**
 * The device server of one SCSI target (all LUs of one iSCSI target): decodes CDBs through the
 * opcode table, reports unit attentions, keeps each LU's task set in order, and carries out
 * task management. Every failure becomes a response; nothing here throws at the transport.
 */
export class ScsiTargetCore {
  readonly stats: ScsiStats = createStats();
  readonly lunNumbers: number[];

  private readonly lus = new Map<number, LogicalUnit>();
  private readonly nexuses = new Map<number, Nexus>();
  /** Prepared commands waiting for execute(). */
  private readonly prepared = new WeakMap<ScsiCommand, Task>();
  private readonly table = new CommandTable();
  private readonly info: TargetInfo;
  private readonly logger: ScsiLogger | undefined;
  private nextSeq = 1;

  constructor(opts: ScsiTargetCoreOptions) {
    for (const lu of opts.luns) {
      if (this.lus.has(lu.lun)) throw new Error(`LUN ${lu.lun} configured twice`);
      this.lus.set(lu.lun, lu);
    }
    this.lunNumbers = [...this.lus.keys()].sort((a, b) => a - b);
    this.logger = opts.logger;
    this.info = {
      targetName: opts.targetName,
      protocolId: opts.protocolId ?? PROTOCOL_ID_ISCSI,
      lunNumbers: this.lunNumbers,
      handlers: this.table.handlers,
      logicalUnits: [...this.lus.values()],
    };
  }

  getLogicalUnit(lun: number): LogicalUnit | undefined {
    return this.lus.get(lun);
  }

  /** A new I_T nexus: each LU owes it POWER ON, RESET, OR BUS DEVICE RESET OCCURRED. */
  addNexus(nexus: Nexus): void {
    if (this.nexuses.has(nexus.id)) return;
    this.nexuses.set(nexus.id, nexus);
    for (const lu of this.lus.values()) {
      pushUa(lu, nexus.id, Asc.POWER_ON_RESET_OR_BUS_DEVICE_RESET);
      lu.reservations.nexusAdded(nexus);
    }
  }

  /** The nexus is gone: its tasks are aborted, its unit attentions forgotten, its SPC-2 reservation released. */
  removeNexus(nexus: Nexus): void {
    this.nexuses.delete(nexus.id);
    for (const lu of this.lus.values()) {
      abortAll(lu, (t) => t.cmd.nexus.id === nexus.id);
      lu.unitAttentions.forget(nexus.id);
      lu.medium.forget(nexus.id);
      lu.reservations.nexusRemoved(nexus);
    }
  }

  /** First phase, in command order (see command.ts). */
  prepare(cmd: ScsiCommand): PrepareResult {
    const receivedAt = performance.now();
    try {
      return this.decide(cmd, receivedAt);
    } catch (err) {
      this.logger?.error({ err, lun: cmd.lun, opcode: cmd.cdb[0] }, 'SCSI prepare failed');
      return this.refuse(cmd, undefined, Sense.internalTargetFailure, 'fixed', receivedAt);
    }
  }

  /** Second phase, once the Data-Out (if any) is complete. Never rejects. */
  async execute(cmd: ScsiCommand, dataOut?: SgVector): Promise<ScsiResponse> {
    let task = this.prepared.get(cmd);
    try {
      if (!task) {
        const first = this.prepare(cmd);
        if (first.kind === 'respond') return first.response;
        task = this.prepared.get(cmd);
        if (!task) throw new Error('prepared command has no task');
      }
      this.prepared.delete(cmd);
      return await this.run(task, dataOut);
    } catch (err) {
      this.logger?.error({ err, lun: cmd.lun, opcode: cmd.cdb[0] }, 'SCSI execute failed');
      task?.finish();
      return toResponse(Sense.internalTargetFailure, 'fixed');
    }
  }

  // ---- Task management (SAM-5) ----

  abortTask(nexus: Nexus, lun: number, tag: number): AbortTaskResult {
    const lu = this.lus.get(lun);
    if (!lu) return 'notFound';
    for (const t of lu.taskSet.entries()) {
      if (t.cmd.nexus.id === nexus.id && t.cmd.tag === tag) {
        t.abort();
        return 'complete';
      }
    }
    return 'notFound';
  }

  /** Every task of this nexus on the LU. */
  abortTaskSet(nexus: Nexus, lun: number): TaskSetResult {
    const lu = this.lus.get(lun);
    if (!lu) return 'noLun';
    abortAll(lu, (t) => t.cmd.nexus.id === nexus.id);
    return 'complete';
  }

  /** Every task on the LU, whichever nexus sent it (TST = 000b); with TAS = 1 they end with TASK ABORTED. */
  clearTaskSet(_nexus: Nexus, lun: number): TaskSetResult {
    const lu = this.lus.get(lun);
    if (!lu) return 'noLun';
    abortAll(lu, () => true);
    return 'complete';
  }

  /**
   * LOGICAL UNIT RESET (SAM-5): abort every task, restore mode parameters, and establish
   * BUS DEVICE RESET FUNCTION OCCURRED for every I_T nexus. Resolves once no aborted I/O is in flight.
   */
  async lunReset(_nexus: Nexus, lun: number): Promise<TaskSetResult> {
    const lu = this.lus.get(lun);
    if (!lu) return 'noLun';
    await this.resetLu(lu, Asc.BUS_DEVICE_RESET_FUNCTION_OCCURRED);
    return 'complete';
  }

  /**
   * TARGET WARM RESET: a LU reset of every LU (29h/03h). TARGET COLD RESET is a power on
   * (RFC 7143 says so), so it reports POWER ON OCCURRED (29h/01h); the transport drops the connections.
   */
  async targetReset(_nexus: Nexus, kind: 'warm' | 'cold'): Promise<'complete'> {
    const ua = kind === 'cold' ? Asc.POWER_ON_OCCURRED : Asc.BUS_DEVICE_RESET_FUNCTION_OCCURRED;
    await Promise.all([...this.lus.values()].map((lu) => this.resetLu(lu, ua)));
    return 'complete';
  }

  private async resetLu(lu: LogicalUnit, ua: AscPair): Promise<void> {
    const aborted = abortAll(lu, () => true);
    lu.resetModeParameters();
    lu.medium.reset();
    lu.reservations.reset();
    for (const id of this.nexuses.keys()) pushUa(lu, id, ua);
    await Promise.all(aborted.map((t) => t.settled));
  }

  // ---- the two phases ----

  private decide(cmd: ScsiCommand, receivedAt: number): PrepareResult {
    if (!this.nexuses.has(cmd.nexus.id)) this.addNexus(cmd.nexus);
    const lu = this.lus.get(cmd.lun);
    const format = senseFormat(lu);
    if (cmd.signal.aborted) return this.refuse(cmd, undefined, TASK_ABORTED, format, receivedAt);
    const looked = cmd.cdb.length > 0 ? this.table.lookup(cmd.cdb) : Sense.invalidOpcode;
    const known = isSenseReason(looked) ? undefined : looked;
    // A LUN without an LU only answers INQUIRY, REPORT LUNS and REQUEST SENSE.
    if (!lu && !known?.anyLun) return this.refuse(cmd, known, Sense.logicalUnitNotSupported, format, receivedAt);
    if (lu && !known?.bypassesUnitAttention) {
      const ua = lu.unitAttentions.hasPending(cmd.nexus.id) ? lu.unitAttentions.take(cmd.nexus.id) : undefined;
      if (ua) return this.refuse(cmd, known, Sense.unitAttention(ua.asc, ua.ascq), format, receivedAt);
    }
    if (!known) return this.refuse(cmd, undefined, looked as SenseReason, format, receivedAt);
    if (cmd.cdb.length < known.cdbLength) return this.refuse(cmd, known, Sense.invalidFieldInCdb(), format, receivedAt);
    // No ACA is ever established (NACA is refused), so an ACA task has nothing to run under.
    if (cmd.attr === 'aca') return this.refuse(cmd, known, Sense.invalidFieldInCdb(), format, receivedAt);

    if (lu && !lu.medium.present && MEDIUM_ACCESS_OPCODES.has(cmd.cdb[0]!)) {
      return this.refuse(cmd, known, ExtraSense.mediumNotPresent, format, receivedAt);
    }
    const parsed = this.parse(known, cmd, lu);
    if (isSenseReason(parsed)) return this.refuse(cmd, known, parsed, format, receivedAt);
    if (lu && reservationConflict(lu.reservations, cmd.nexus, cmd.cdb)) {
      return this.refuse(cmd, known, RESERVATION_CONFLICT, format, receivedAt);
    }
    if (parsed.onDataOutMismatch && cmd.expectedDataOutLength !== parsed.dataOutLength) {
      return this.refuse(cmd, known, parsed.onDataOutMismatch, format, receivedAt, dataOutTransferLength(known, parsed));
    }
    const dataOutLength = effectiveDataOutLength(parsed, cmd.expectedDataOutLength);
    if (dataOutLength === undefined) {
      const spdtl = dataOutTransferLength(known, parsed);
      return this.refuse(cmd, known, Sense.invalidFieldInCommandIu, format, receivedAt, spdtl);
    }
    const task = new Task(this.nextSeq++, cmd, lu, known, parsed, dataOutLength);
    lu?.taskSet.add(task);
    this.prepared.set(cmd, task);
    return { kind: 'execute', dataOutLength };
  }

  private parse(handler: CommandHandler, cmd: ScsiCommand, lu: LogicalUnit | undefined): ReturnType<CommandHandler['parse']> {
    const base = { cdb: cmd.cdb, nexus: cmd.nexus, target: this.info };
    if (handler.anyLun) return handler.parse({ ...base, lu });
    if (!lu) return Sense.logicalUnitNotSupported;
    return handler.parse({ ...base, lu });
  }

  private async run(task: Task, dataOut: SgVector | undefined): Promise<ScsiResponse> {
    const lu = task.lu;
    task.state = 'queued';
    task.queuedAt = performance.now();
    let outcome: Outcome = TASK_ABORTED;
    const enabled = !task.aborted && (lu ? await lu.taskSet.whenEnabled(task, task.signal) : true);
    if (enabled && !task.aborted) {
      task.state = 'executing';
      task.executingAt = performance.now();
      outcome = await task.parsed.run({ dataOut, dataOutLength: task.dataOutLength, signal: task.signal });
      if (task.aborted) {
        // The I/O has settled; its result is dropped.
        if (outcome.kind === 'good') outcome.release?.();
        outcome = TASK_ABORTED;
      }
    }
    const doneAt = performance.now();
    task.finish();
    const queuedAt = task.queuedAt;
    const startedAt = task.executingAt || doneAt;
    this.record(task.handler, outcome, task.dataOutLength, {
      received: queuedAt - task.receivedAt,
      queued: startedAt - queuedAt,
      executing: doneAt - startedAt,
    });
    return toResponse(outcome, senseFormat(lu), dataOutTransferLength(task.handler, task.parsed));
  }

  private refuse(
    cmd: ScsiCommand,
    handler: CommandHandler | undefined,
    outcome: Outcome,
    format: SenseFormat,
    receivedAt: number,
    spdtl?: number,
  ): PrepareResult {
    this.record(handler, outcome, 0, { received: 0, queued: 0, executing: performance.now() - receivedAt });
    if (outcome.kind === 'sense') {
      this.logger?.debug(
        { lun: cmd.lun, opcode: cmd.cdb[0], key: outcome.key, asc: outcome.asc, ascq: outcome.ascq },
        'SCSI command refused',
      );
    }
    return { kind: 'respond', response: toResponse(outcome, format, spdtl) };
  }

  private record(
    handler: CommandHandler | undefined,
    outcome: Outcome,
    dataOutLength: number,
    ms: { received: number; queued: number; executing: number },
  ): void {
    const cls = handler?.cls ?? 'other';
    const good = outcome.kind === 'good';
    recordCommand(this.stats, {
      cls,
      status: outcome.kind === 'good' ? ScsiStatus.GOOD : outcome.kind === 'status' ? outcome.status : ScsiStatus.CHECK_CONDITION,
      senseKey: outcome.kind === 'sense' ? outcome.key : undefined,
      bytesRead: good && cls === 'read' ? (outcome.data?.length ?? 0) : 0,
      bytesWritten: good && cls === 'write' ? dataOutLength : 0,
      receivedSeconds: ms.received * SECONDS_PER_MS,
      queuedSeconds: ms.queued * SECONDS_PER_MS,
      executingSeconds: ms.executing * SECONDS_PER_MS,
    });
  }
}

function senseFormat(lu: LogicalUnit | undefined): SenseFormat {
  return lu?.descriptorSense ? 'descriptor' : 'fixed';
}

function pushUa(lu: LogicalUnit, nexusId: number, [asc, ascq]: AscPair): void {
  lu.unitAttentions.push(nexusId, { asc, ascq });
}

/** SPDTL for responses of data-out commands (see ScsiResponse.dataOutTransferLength). */
function dataOutTransferLength(handler: CommandHandler, parsed: ParsedCommand): number | undefined {
  return handler.cls === 'write' || parsed.dataOutLength > 0 ? parsed.dataOutLength : undefined;
}

/**
 * What the transport collects when the initiator expects less than the CDB asks for (EDTL < SPDTL):
 * FCP-4 lets the device server process the command on the first EDTL bytes (what libiscsi's
 * iSCSIResiduals expects) when they are whole blocks; anything else is refused (undefined) with
 * INVALID FIELD IN COMMAND INFORMATION UNIT, before any data moves.
 */
function effectiveDataOutLength(parsed: ParsedCommand, edtl: number): number | undefined {
  if (parsed.dataOutLength <= edtl) return parsed.dataOutLength;
  const unit = parsed.dataOutGranularity;
  return unit !== undefined && edtl % unit === 0 ? edtl : undefined;
}

function abortAll(lu: LogicalUnit, which: (t: Task) => boolean): Task[] {
  const victims = [...lu.taskSet.entries()].filter(which);
  for (const t of victims) t.abort();
  return victims;
}
