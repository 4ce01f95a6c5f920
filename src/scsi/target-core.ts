import type { ResizeRequest } from '../block/backstore.js';
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
import { sanitizeRefusal } from './sbc/sanitize-gate.js';
import { offlineRefusal } from './offline-gate.js';
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

  private readonly lus = new Map<number, LogicalUnit>();
  private readonly nexuses = new Map<number, Nexus>();
  /** Prepared commands waiting for execute(). */
  private readonly prepared = new WeakMap<ScsiCommand, Task>();
  private readonly table = new CommandTable();
  private readonly info: TargetInfo;
  private readonly logger: ScsiLogger | undefined;
  private nextSeq = 1;
  /** The LUN inventory, sorted; replaced (never mutated) when an LU is added or removed. */
  private lunList: readonly number[] = [];
  /** Unsubscribe from each LU's capacity changes (a block device that shrank underneath). */
  private readonly detachers = new Map<LogicalUnit, () => void>();

  constructor(opts: ScsiTargetCoreOptions) {
    for (const lu of opts.luns) {
      if (this.lus.has(lu.lun)) throw new Error(`LUN ${lu.lun} configured twice`);
      this.lus.set(lu.lun, lu);
      this.attach(lu);
    }
    this.lunList = sortedLuns(this.lus);
    this.logger = opts.logger;
    // Live views: REPORT LUNS and EXTENDED COPY see LUs added or removed at runtime.
    const luns = (): readonly number[] => this.lunList;
    const units = (): readonly LogicalUnit[] => [...this.lus.values()];
    this.info = {
      targetName: opts.targetName,
      protocolId: opts.protocolId ?? PROTOCOL_ID_ISCSI,
      get lunNumbers() {
        return luns();
      },
      handlers: this.table.handlers,
      get logicalUnits() {
        return units();
      },
    };
  }

  /** The LUNs that have an LU, ascending (what REPORT LUNS lists). */
  get lunNumbers(): readonly number[] {
    return this.lunList;
  }

  getLogicalUnit(lun: number): LogicalUnit | undefined {
    return this.lus.get(lun);
  }

  // ---- LU inventory and capacity changes at runtime (the admin plane / config reload call these) ----

  /**
   * A new LU. Each I_T nexus gets POWER ON, RESET, OR BUS DEVICE RESET OCCURRED on it (as if it had
   * been there at login) and REPORTED LUNS DATA HAS CHANGED on every other LU (SPC-4 REPORT LUNS:
   * the inventory changed, so every I_T nexus is told; it can only be told through an LU it can address).
   */
  addLogicalUnit(lu: LogicalUnit): void {
    if (this.lus.has(lu.lun)) throw new Error(`LUN ${lu.lun} already exists`);
    const others = [...this.lus.values()];
    this.lus.set(lu.lun, lu);
    this.attach(lu);
    this.lunList = sortedLuns(this.lus);
    for (const nexus of this.nexuses.values()) {
      pushUa(lu, nexus.id, Asc.POWER_ON_RESET_OR_BUS_DEVICE_RESET);
      lu.reservations.nexusAdded(nexus);
      for (const other of others) pushUa(other, nexus.id, Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
    }
  }

  /**
   * Takes LU `lun` out of the target: from now on commands to it get LOGICAL UNIT NOT SUPPORTED,
   * its tasks are aborted (each ends with TASK ABORTED), and every I_T nexus gets REPORTED LUNS DATA
   * HAS CHANGED on each remaining LU. Resolves with the LU once none of its I/O is in flight, so the
   * caller can close its device; undefined when there is no such LU.
   */
  async removeLogicalUnit(lun: number): Promise<LogicalUnit | undefined> {
    const lu = this.lus.get(lun);
    if (!lu) return undefined;
    this.lus.delete(lun);
    this.detach(lu);
    this.lunList = sortedLuns(this.lus);
    const aborted = abortAll(lu, () => true);
    for (const other of this.lus.values()) {
      for (const id of this.nexuses.keys()) pushUa(other, id, Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
    }
    await Promise.all(aborted.map((t) => t.settled));
    return lu;
  }

  /** Aborts every task of LU `lun` (each ends with TASK ABORTED); resolves once none of its I/O is in flight. */
  async quiesceLogicalUnit(lun: number): Promise<void> {
    const lu = this.lus.get(lun);
    if (!lu) return;
    const aborted = abortAll(lu, () => true);
    await Promise.all(aborted.map((t) => t.settled));
  }

  /**
   * Puts `lu` in the place of the LU with the same number (a reload opening a failed LU again):
   * the old one's tasks are aborted (each ends with TASK ABORTED) and the promise resolves with it
   * once none of its I/O is in flight, so the caller can close its device. The inventory does not
   * change (no REPORTED LUNS DATA HAS CHANGED); with `powerOn`, every I_T nexus gets POWER ON,
   * RESET, OR BUS DEVICE RESET OCCURRED on it, as after a power cycle of that LU.
   */
  async replaceLogicalUnit(lu: LogicalUnit, opts: { powerOn: boolean }): Promise<LogicalUnit> {
    const old = this.lus.get(lu.lun);
    if (!old) throw new Error(`LUN ${lu.lun} does not exist`);
    this.lus.set(lu.lun, lu);
    this.detach(old);
    this.attach(lu);
    for (const nexus of this.nexuses.values()) {
      if (opts.powerOn) pushUa(lu, nexus.id, Asc.POWER_ON_RESET_OR_BUS_DEVICE_RESET);
      lu.reservations.nexusAdded(nexus);
    }
    const aborted = abortAll(old, () => true);
    await Promise.all(aborted.map((t) => t.settled));
    return old;
  }

  /**
   * Online resize of LU `lun` (see ResizeRequest: a shrink is refused unless allowed). When the
   * capacity changed, every I_T nexus gets CAPACITY DATA HAS CHANGED on that LU (SBC-4). Rejects,
   * changing nothing, when there is no such LU or its device cannot be resized as asked.
   */
  async resizeLogicalUnit(lun: number, to: ResizeRequest): Promise<{ oldSize: number; newSize: number }> {
    const lu = this.lus.get(lun);
    if (!lu) throw new Error(`LUN ${lun} does not exist`);
    if (!lu.device.resize) throw new Error(`LUN ${lun}: its device cannot be resized`);
    const oldSize = lu.device.size;
    const newSize = await lu.device.resize(to);
    if (newSize !== oldSize) {
      for (const id of this.nexuses.keys()) pushUa(lu, id, Asc.CAPACITY_DATA_HAS_CHANGED);
    }
    return { oldSize, newSize };
  }

  /** A device that shrank underneath (found by I/O past its new end) raises CAPACITY DATA HAS CHANGED, like a resize. */
  private attach(lu: LogicalUnit): void {
    const off = lu.device.health?.onCapacityChange(() => {
      if (this.lus.get(lu.lun) !== lu) return;
      for (const id of this.nexuses.keys()) pushUa(lu, id, Asc.CAPACITY_DATA_HAS_CHANGED);
    });
    if (off) this.detachers.set(lu, off);
  }

  private detach(lu: LogicalUnit): void {
    this.detachers.get(lu)?.();
    this.detachers.delete(lu);
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

    // Storage offline (a truncated or deleted backing file, an LU that could not be opened): NOT READY.
    const offline = lu ? offlineRefusal(lu, cmd.cdb) : undefined;
    if (offline) return this.refuse(cmd, known, offline, format, receivedAt);
    if (lu && !lu.medium.present && MEDIUM_ACCESS_OPCODES.has(cmd.cdb[0]!)) {
      return this.refuse(cmd, known, ExtraSense.mediumNotPresent, format, receivedAt);
    }
    // A sanitize in progress or failed refuses all but a few commands, from every nexus.
    const sanitizing = lu ? sanitizeRefusal(lu, cmd.cdb) : undefined;
    if (sanitizing) return this.refuse(cmd, known, sanitizing, format, receivedAt);
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
      // Queued before a sanitize began or the storage went offline: it must not touch the medium now.
      const refused = lu ? (offlineRefusal(lu, task.cmd.cdb) ?? sanitizeRefusal(lu, task.cmd.cdb)) : undefined;
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

function sortedLuns(lus: ReadonlyMap<number, LogicalUnit>): readonly number[] {
  return [...lus.keys()].sort((a, b) => a - b);
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
