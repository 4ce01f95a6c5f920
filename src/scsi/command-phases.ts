import type { SgVector } from '../block/sg.js';
import type { AluaProvider } from './alua.js';
import { aluaRefusal } from './alua-gate.js';
import { ScsiStatus, type PrepareResult, type ScsiCommand, type ScsiResponse } from './command.js';
import type { DeviceType } from './device-type.js';
import type { CommandHandler, ParsedCommand, TargetInfo } from './handler.js';
import type { LogicalUnit } from './logical-unit.js';
import type { LuInventory } from './lu-inventory.js';
import type { NexusViews } from './nexus-view.js';
import { offlineRefusal } from './offline-gate.js';
import { CommandTable } from './command-table.js';
import { RESERVATION_CONFLICT, TASK_ABORTED, type Outcome } from './outcome.js';
import { reservationConflict } from './pr/access.js';
import { senseFormatOf, toResponse } from './response.js';
import type { SenseFormat } from './sense.js';
import { isSenseReason, Sense, type SenseReason } from './sense-reasons.js';
import { recordCommand, type ScsiStats } from './stats.js';
import { Task } from './task.js';

/** The subset of a pino logger the core uses. */
export interface ScsiLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const SECONDS_PER_MS = 1e-3;

/**
 * The two phases of a command (see command.ts): `decide` checks everything that needs no payload,
 * in the order a device server meets it, and either answers or makes a task; `run` waits for the
 * task set, runs the handler and answers. Every refusal and completion is counted in `stats`.
 */
export class CommandPhases {
  private table: CommandTable;
  private nextSeq = 1;
  /** Asymmetric access (alua.ts): when set, this port's access state gates commands first. */
  private alua: AluaProvider | undefined;

  constructor(
    private readonly inventory: LuInventory,
    private deviceType: DeviceType,
    /** The target as nexus `id` sees it (its LUN view applied). */
    private readonly infoFor: (nexusId: number) => TargetInfo,
    private readonly stats: ScsiStats,
    private readonly logger: ScsiLogger | undefined,
    /** LUN masking and mapping per nexus: the LUN of a command is the one its initiator uses. */
    private readonly views: NexusViews,
  ) {
    this.table = new CommandTable(deviceType.handlers);
  }

  /** ALUA on (with the device type that has REPORT TARGET PORT GROUPS) or off (with the plain one). */
  useAlua(alua: AluaProvider | undefined, deviceType: DeviceType): void {
    if (deviceType !== this.deviceType) {
      this.table = new CommandTable(deviceType.handlers);
      this.deviceType = deviceType;
    }
    this.alua = alua;
  }

  /** A task to run, or the answer now. */
  decide(cmd: ScsiCommand, receivedAt: number): Task | PrepareResult {
    if (!this.inventory.hasNexus(cmd.nexus.id)) this.inventory.addNexus(cmd.nexus);
    // A LUN masked from this nexus is, to it, a LUN without an LU.
    const targetLun = this.views.targetLun(cmd.nexus.id, cmd.lun);
    const lu = targetLun === undefined ? undefined : this.inventory.get(targetLun);
    const format = senseFormatOf(lu);
    const refuse = (handler: CommandHandler | undefined, outcome: Outcome, spdtl?: number): PrepareResult =>
      this.refuse(cmd, handler, outcome, format, receivedAt, spdtl);
    if (cmd.signal.aborted) return refuse(undefined, TASK_ABORTED);
    const looked = cmd.cdb.length > 0 ? this.table.lookup(cmd.cdb) : Sense.invalidOpcode;
    const known = isSenseReason(looked) ? undefined : looked;
    // A LUN without an LU only answers INQUIRY, REPORT LUNS and REQUEST SENSE.
    if (!lu && !known?.anyLun) return refuse(known, Sense.logicalUnitNotSupported);
    if (lu && !known?.bypassesUnitAttention) {
      const ua = lu.unitAttentions.hasPending(cmd.nexus.id) ? lu.unitAttentions.take(cmd.nexus.id) : undefined;
      if (ua) return refuse(known, Sense.unitAttention(ua.asc, ua.ascq));
    }
    if (!known) return refuse(undefined, looked as SenseReason);
    if (cmd.cdb.length < known.cdbLength) return refuse(known, Sense.invalidFieldInCdb());
    // No ACA is ever established (NACA is refused), so an ACA task has nothing to run under.
    if (cmd.attr === 'aca') return refuse(known, Sense.invalidFieldInCdb());
    const gated = lu ? this.gate(lu, cmd.cdb, false) : undefined;
    if (gated) return refuse(known, gated);
    const parsed = this.parse(known, cmd, lu);
    if (isSenseReason(parsed)) return refuse(known, parsed);
    if (lu && reservationConflict(lu.reservations, cmd.nexus, cmd.cdb)) return refuse(known, RESERVATION_CONFLICT);
    if (parsed.onDataOutMismatch && cmd.expectedDataOutLength !== parsed.dataOutLength) {
      return refuse(known, parsed.onDataOutMismatch, dataOutTransferLength(known, parsed));
    }
    const dataOutLength = effectiveDataOutLength(parsed, cmd.expectedDataOutLength);
    if (dataOutLength === undefined) return refuse(known, Sense.invalidFieldInCommandIu, dataOutTransferLength(known, parsed));
    const task = new Task(this.nextSeq++, cmd, lu, known, parsed, dataOutLength);
    lu?.taskSet.add(task);
    return task;
  }

  /** Once the task set enables the task (and its Data-Out is in): the handler's outcome as a response. */
  async run(task: Task, dataOut: SgVector | undefined, admit?: () => boolean | Promise<boolean>): Promise<ScsiResponse> {
    const lu = task.lu;
    task.state = 'queued';
    task.queuedAt = performance.now();
    let outcome: Outcome = TASK_ABORTED;
    // Usually enabled on arrival: no promise to wait on then.
    const enabled = !task.aborted && (!lu || lu.taskSet.isEnabled(task) || (await lu.taskSet.whenEnabled(task, task.signal)));
    let admitted = enabled && !task.aborted;
    if (admitted && admit) {
      const verdict = admit(); // usually granted at once: no promise to wait on then
      admitted = verdict === true || (verdict !== false && (await verdict));
    }
    if (admitted && !task.aborted) {
      task.state = 'executing';
      task.executingAt = performance.now();
      // Queued before a sanitize began or the storage went offline: it must not touch the medium now.
      const refused = lu ? this.gate(lu, task.cmd.cdb, true) : undefined;
      outcome = refused ?? (await task.parsed.run({ dataOut, dataOutLength: task.dataOutLength, signal: task.signal }));
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
    return toResponse(outcome, senseFormatOf(lu), dataOutTransferLength(task.handler, task.parsed));
  }

  /**
   * The core's own gates: this port's asymmetric access state (only with ALUA; it may change while a
   * task waits, so it is checked at start too) and the storage offline (a truncated or deleted
   * backing file, an LU that could not be opened); then the device type's gates (a disk: ejected
   * medium, sanitize). `atStart`: only the gates whose condition may have begun while the task
   * waited in the task set.
   */
  private gate(lu: LogicalUnit, cdb: Buffer, atStart: boolean): SenseReason | undefined {
    if (this.alua) {
      const inaccessible = aluaRefusal(this.alua, lu, cdb);
      if (inaccessible) return inaccessible;
    }
    const offline = offlineRefusal(lu, cdb);
    if (offline) return offline;
    for (const g of this.deviceType.gates) {
      if (atStart && !g.recheckAtStart) continue;
      const refused = g.refusal(lu, cdb);
      if (refused) return refused;
    }
    return undefined;
  }

  private parse(handler: CommandHandler, cmd: ScsiCommand, lu: LogicalUnit | undefined): ReturnType<CommandHandler['parse']> {
    const target = this.infoFor(cmd.nexus.id);
    if (handler.anyLun) return handler.parse({ cdb: cmd.cdb, nexus: cmd.nexus, target, lu });
    if (!lu) return Sense.logicalUnitNotSupported;
    return handler.parse({ cdb: cmd.cdb, nexus: cmd.nexus, target, lu });
  }

  /** The answer to a command that never became a task (also what prepare answers when it throws). */
  refuse(
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
