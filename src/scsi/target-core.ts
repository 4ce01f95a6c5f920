import type { SgVector } from '../block/sg.js';
import type { AluaProvider } from './alua.js';
import type { SharedLuEvent } from './lu-sharing.js';
import type { Nexus, PrepareResult, ScsiCommand, ScsiResponse } from './command.js';
import { CommandPhases, type ScsiLogger } from './command-phases.js';
import type { DeviceType } from './device-type.js';
import { DIRECT_ACCESS_DEVICE } from './disk.js';
import { ScsiError } from './errors.js';
import type { CommandHandler, TargetInfo } from './handler.js';
import type { LogicalUnit } from './logical-unit.js';
import { LuInventory, type ResizeRequest } from './lu-inventory.js';
import { senseFormatOf, toResponse } from './response.js';
import { buildSense } from './sense.js';
import { Asc, Sense, type SenseReason } from './sense-reasons.js';
import { createStats, type ScsiStats } from './stats.js';
import { Task } from './task.js';
import { abortAll, resetLogicalUnit, settled } from './task-management.js';
import { NexusAborts, type NexusAbortHook } from './nexus-aborts.js';
import { NexusViews, viewTargetInfo, type NexusLunView } from './nexus-view.js';
import { ALUA_COMMANDS } from './spc/command-set.js';

export type { ScsiLogger } from './command-phases.js';
export type { LunMapping, NexusLunView } from './nexus-view.js';

export interface ExecuteOptions {
  /**
   * Resources the transport must hold before the command touches the medium (the read budget for
   * its Data-In), asked for once the task set has enabled it: a task still waiting for its turn
   * holds nothing, so budgets and task attributes never wait on each other in a circle. True when
   * granted at once; a promise (resolving false if the command was aborted meanwhile) otherwise.
   */
  readonly admit?: () => boolean | Promise<boolean>;
}

export interface ScsiTargetCoreOptions {
  targetName: string;
  luns: LogicalUnit[];
  logger?: ScsiLogger;
  /** SPC protocol identifier of the transport for VPD 83h target port designators (default 5h, iSCSI). */
  protocolId?: number;
  /** What the LUs are (their commands, VPD pages, gates); default the direct-access block device (disk.ts). */
  deviceType?: DeviceType;
  /** Implicit asymmetric access (alua.ts); none (the default) = a single always-active node, no ALUA. */
  alua?: AluaProvider;
}

export type AbortTaskResult = 'complete' | 'notFound';
export type TaskSetResult = 'complete' | 'noLun';

const PROTOCOL_ID_ISCSI = 0x5;

/**
 * The device server of one SCSI target (all LUs of one iSCSI target): decodes CDBs through the
 * device type's opcode table, reports unit attentions, keeps each LU's task set in order, and
 * carries out task management. Every failure becomes a response; nothing here throws at the transport.
 */
export class ScsiTargetCore {
  readonly stats: ScsiStats = createStats();

  private readonly inventory: LuInventory;
  private readonly deviceType: DeviceType;
  /** `deviceType` with REPORT TARGET PORT GROUPS: what the LUs are while an ALUA provider is set. */
  private readonly aluaDeviceType: DeviceType;
  private alua: AluaProvider | undefined;
  private unsubscribeAlua: (() => void) | undefined;
  private readonly phases: CommandPhases;
  private readonly logger: ScsiLogger | undefined;
  /** Prepared commands waiting for execute(). */
  private readonly prepared = new WeakMap<ScsiCommand, Task>();
  /** The transport's own part of TMFs that reach every nexus (nexus-aborts.ts). */
  private readonly nexusAborts = new NexusAborts();
  /** LUN masking and mapping per nexus (none = every LU under its own number). */
  private readonly views = new NexusViews();
  /** The target as each view shows it, built once per view. */
  private viewInfos = new WeakMap<NexusLunView, TargetInfo>();

  constructor(opts: ScsiTargetCoreOptions) {
    this.deviceType = opts.deviceType ?? DIRECT_ACCESS_DEVICE;
    this.aluaDeviceType = withCommands(this.deviceType, ALUA_COMMANDS);
    const inventory = (this.inventory = new LuInventory(opts.luns, this.deviceType));
    this.logger = opts.logger;
    // Live views: REPORT LUNS and EXTENDED COPY see LUs added or removed at runtime.
    const info: TargetInfo = {
      targetName: opts.targetName,
      protocolId: opts.protocolId ?? PROTOCOL_ID_ISCSI,
      get lunNumbers() {
        return inventory.lunNumbers;
      },
      deviceType: this.deviceType,
      get logicalUnits() {
        return inventory.units();
      },
    };
    // With ALUA: the same target, with the provider and REPORT TARGET PORT GROUPS.
    let aluaInfo: TargetInfo | undefined;
    const infoFor = (nexusId: number): TargetInfo => {
      const view = this.views.get(nexusId);
      if (!view) {
        if (!this.alua) return info;
        if (aluaInfo?.alua !== this.alua) aluaInfo = withAlua(info, this.aluaDeviceType, this.alua);
        return aluaInfo;
      }
      let seen = this.viewInfos.get(view);
      if (!seen) {
        seen = viewTargetInfo(info, view, (lun) => inventory.get(lun));
        if (this.alua) seen = withAlua(seen, this.aluaDeviceType, this.alua);
        this.viewInfos.set(view, seen);
      }
      return seen;
    };
    this.phases = new CommandPhases(inventory, this.deviceType, infoFor, this.stats, this.logger, this.views);
    if (opts.alua) this.setAluaProvider(opts.alua);
  }

  // ---- Asymmetric logical unit access (alua.ts) ----

  /**
   * Turns implicit ALUA on with `provider`, or off with undefined (the default: what a single node
   * answers). While on: INQUIRY reports TPGS = 01b, VPD 83h the provider's local group and relative
   * port, REPORT TARGET PORT GROUPS answers (and REPORT SUPPORTED OPERATION CODES lists it), and
   * this port's access state gates commands (alua-gate.ts). The provider's onChange, if any, is
   * subscribed to: each change establishes ASYMMETRIC ACCESS STATE CHANGED (asymmetricAccessChanged).
   * Meant to be set before initiators log in: switching it live establishes no unit attention.
   */
  setAluaProvider(provider: AluaProvider | undefined): void {
    if (provider === this.alua) return;
    this.unsubscribeAlua?.();
    this.unsubscribeAlua = provider?.onChange?.((luns) => this.asymmetricAccessChanged(luns));
    this.alua = provider;
    // View infos were built for the old setting.
    this.viewInfos = new WeakMap();
    this.phases.useAlua(provider, provider ? this.aluaDeviceType : this.deviceType);
  }

  /**
   * Resolves once LU `lun` has no task under way (none for an unknown LUN). A cluster drain calls
   * it after the access state became Transitioning, so the gate already refuses new commands.
   */
  async quiesce(lun: number): Promise<void> {
    await this.inventory.get(lun)?.taskSet.whenEmpty();
  }

  /** The ALUA provider in use, if any. */
  get aluaProvider(): AluaProvider | undefined {
    return this.alua;
  }

  /**
   * Target port group states changed (implicitly): every I_T nexus gets ASYMMETRIC ACCESS STATE
   * CHANGED on each LU of `luns` (the target's own LUNs; undefined = every LU). What a provider
   * without onChange calls after a change; AluaModel.setState gets here through onChange.
   */
  asymmetricAccessChanged(luns?: readonly number[]): void {
    const lus = luns === undefined ? this.inventory.units() : luns.map((l) => this.inventory.get(l)).filter((lu) => lu !== undefined);
    for (const lu of lus) this.inventory.attentionToAll(lu, Asc.ASYMMETRIC_ACCESS_STATE_CHANGED);
  }

  /** The LUNs that have an LU, ascending (what REPORT LUNS lists to a nexus without a view). */
  get lunNumbers(): readonly number[] {
    return this.inventory.lunNumbers;
  }

  /** The LUNs nexus `nexus` may address, as it numbers them, ascending (what REPORT LUNS lists to it). */
  lunNumbersFor(nexus: Nexus): readonly number[] {
    const view = this.views.get(nexus.id);
    if (!view) return this.inventory.lunNumbers;
    return [...view].filter(([, m]) => this.inventory.get(m.lun)).map(([lun]) => lun).sort((a, b) => a - b);
  }

  /**
   * LUN masking and mapping for one I_T nexus (a node ACL's LUN map): from now on the LUNs in its
   * commands and TMFs are the keys of `view`, each standing for the LU it maps to, optionally
   * read-only (writes refused with DATA PROTECT, WRITE PROTECTED; MODE SENSE shows WP); a LUN not in
   * the view is answered as a LUN without an LU. undefined removes the view (every LU under its own
   * number). When the view of a nexus the core already knows changes which LUs it addresses or their
   * numbers, that nexus gets REPORTED LUNS DATA HAS CHANGED on every LU it may now address (SPC-4).
   */
  setNexusView(nexus: Nexus, view: NexusLunView | undefined): void {
    const before = new Set(this.visibleUnits(nexus.id));
    const changed = this.views.set(nexus.id, view);
    if (!changed || !this.inventory.hasNexus(nexus.id)) return;
    for (const lu of this.visibleUnits(nexus.id)) {
      // What an LU owed the nexus while it was masked (its power-on at login) was never reportable: the news now is this.
      if (!before.has(lu)) lu.unitAttentions.forget(nexus.id);
      this.inventory.attention(lu, nexus.id, Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
    }
  }

  /** The view installed for `nexus`, if any. */
  nexusView(nexus: Nexus): NexusLunView | undefined {
    return this.views.get(nexus.id);
  }

  /** The LU that LUN `lun` reaches for `nexus` (its view applied). */
  private unitFor(nexus: Nexus, lun: number): LogicalUnit | undefined {
    const targetLun = this.views.targetLun(nexus.id, lun);
    return targetLun === undefined ? undefined : this.inventory.get(targetLun);
  }

  private visibleUnits(nexusId: number): LogicalUnit[] {
    return this.inventory.units().filter((lu) => this.views.initiatorLun(nexusId, lu.lun) !== undefined);
  }

  /** Memory alignment the write data of LUN `lun` (as `nexus` addresses it) needs to go without a bounce copy; 1 = any. */
  dataOutAlignment(nexus: Nexus, lun: number): number {
    return this.unitFor(nexus, lun)?.device.memoryAlignment ?? 1;
  }

  getLogicalUnit(lun: number): LogicalUnit | undefined {
    return this.inventory.get(lun);
  }

  /**
   * Sense bytes for `reason` in the format LU `lun` asks for (control mode page D_SENSE: descriptor,
   * else fixed; fixed where there is no such LU). For what the transport refuses on its own (Data-Out
   * that cannot be used, a digest error, a timeout): the same format the core's own answers use.
   */
  senseFor(lun: number, reason: SenseReason, nexus?: Nexus): Buffer {
    return buildSense(reason, senseFormatOf(nexus ? this.unitFor(nexus, lun) : this.inventory.get(lun)));
  }

  // ---- LU inventory and capacity changes at runtime (the admin plane / config reload call these) ----

  /**
   * A new LU. Each I_T nexus gets POWER ON, RESET, OR BUS DEVICE RESET OCCURRED on it (as if it had
   * been there at login) and REPORTED LUNS DATA HAS CHANGED on every other LU.
   */
  addLogicalUnit(lu: LogicalUnit): void {
    this.inventory.add(lu);
  }

  /**
   * Takes LU `lun` out of the target: from now on commands to it get LOGICAL UNIT NOT SUPPORTED,
   * its tasks are aborted (each ends with TASK ABORTED), and every I_T nexus gets REPORTED LUNS DATA
   * HAS CHANGED on each remaining LU. Resolves with the LU once none of its I/O is in flight, so the
   * caller can close its device; undefined when there is no such LU.
   */
  removeLogicalUnit(lun: number): Promise<LogicalUnit | undefined> {
    return this.inventory.remove(lun);
  }

  /** Aborts every task of LU `lun` (each ends with TASK ABORTED); resolves once none of its I/O is in flight. */
  async quiesceLogicalUnit(lun: number): Promise<void> {
    const lu = this.inventory.get(lun);
    if (!lu) return;
    await settled(abortAll(lu, () => true));
  }

  /**
   * Puts `lu` in the place of the LU with the same number (a reload opening a failed LU again):
   * the old one's tasks are aborted (each ends with TASK ABORTED) and the promise resolves with it
   * once none of its I/O is in flight, so the caller can close its device. The inventory does not
   * change (no REPORTED LUNS DATA HAS CHANGED); with `powerOn`, every I_T nexus gets POWER ON,
   * RESET, OR BUS DEVICE RESET OCCURRED on it, as after a power cycle of that LU.
   */
  replaceLogicalUnit(lu: LogicalUnit, opts: { powerOn: boolean }): Promise<LogicalUnit> {
    return this.inventory.replace(lu, opts);
  }

  /**
   * Online resize of LU `lun` (see ResizeRequest: a shrink is refused unless allowed). When the
   * capacity changed, every I_T nexus gets CAPACITY DATA HAS CHANGED on that LU (SBC-4). Rejects,
   * changing nothing, when there is no such LU or its device cannot be resized as asked.
   */
  resizeLogicalUnit(lun: number, to: ResizeRequest): Promise<{ oldSize: number; newSize: number }> {
    return this.inventory.resize(lun, to);
  }

  /** A new I_T nexus: each LU owes it POWER ON, RESET, OR BUS DEVICE RESET OCCURRED. */
  addNexus(nexus: Nexus, onAbort?: NexusAbortHook): void {
    // `onAbort` is how CLEAR TASK SET and the resets reach the tasks the transport still holds.
    if (onAbort) this.nexusAborts.register(nexus.id, onAbort);
    this.inventory.addNexus(nexus);
  }

  /** The nexus is gone: its tasks are aborted, its unit attentions forgotten, its SPC-2 reservation released, its view dropped. */
  removeNexus(nexus: Nexus): void {
    this.nexusAborts.unregister(nexus.id);
    this.inventory.removeNexus(nexus);
    this.views.set(nexus.id, undefined);
  }

  // ---- the two phases (command-phases.ts) ----

  /** First phase, in command order (see command.ts). */
  prepare(cmd: ScsiCommand): PrepareResult {
    const receivedAt = performance.now();
    try {
      const decided = this.phases.decide(cmd, receivedAt);
      if (!(decided instanceof Task)) return decided;
      this.prepared.set(cmd, decided);
      return { kind: 'execute', dataOutLength: decided.dataOutLength };
    } catch (err) {
      this.logger?.error({ err, lun: cmd.lun, opcode: cmd.cdb[0] }, 'SCSI prepare failed');
      return this.phases.refuse(cmd, undefined, Sense.internalTargetFailure, 'fixed', receivedAt);
    }
  }

  /** Second phase, once the Data-Out (if any) is complete. Never rejects. */
  execute(cmd: ScsiCommand, dataOut?: SgVector, opts: ExecuteOptions = {}): Promise<ScsiResponse> {
    let task = this.prepared.get(cmd);
    try {
      if (!task) {
        const first = this.prepare(cmd);
        if (first.kind === 'respond') return Promise.resolve(first.response);
        task = this.prepared.get(cmd);
        if (!task) throw new ScsiError('INTERNAL', 'prepared command has no task');
      }
      this.prepared.delete(cmd);
      const running = task;
      return this.phases.run(running, dataOut, opts.admit).catch((err: unknown) => this.executeFailed(cmd, running, err));
    } catch (err) {
      return Promise.resolve(this.executeFailed(cmd, task, err));
    }
  }

  private executeFailed(cmd: ScsiCommand, task: Task | undefined, err: unknown): ScsiResponse {
    this.logger?.error({ err, lun: cmd.lun, opcode: cmd.cdb[0] }, 'SCSI execute failed');
    task?.finish();
    return toResponse(Sense.internalTargetFailure, 'fixed');
  }

  // ---- Task management (SAM-5) ----

  // The LUN of a TMF is the one the nexus uses (its view applied), as for commands.

  abortTask(nexus: Nexus, lun: number, tag: number): AbortTaskResult {
    const lu = this.unitFor(nexus, lun);
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
    const lu = this.unitFor(nexus, lun);
    if (!lu) return 'noLun';
    abortAll(lu, (t) => t.cmd.nexus.id === nexus.id);
    return 'complete';
  }

  /**
   * Every task on the LU, whichever nexus sent it (TST = 000b); with TAS = 1 they end with TASK ABORTED.
   * Resolves once every nexus's transport has let go of its tasks on the LU.
   */
  async clearTaskSet(nexus: Nexus, lun: number): Promise<TaskSetResult> {
    const lu = this.unitFor(nexus, lun);
    if (!lu) return 'noLun';
    await this.abortEverywhere([lu], lu.lun);
    abortAll(lu, () => true); // what arrived meanwhile
    return 'complete';
  }

  /**
   * LOGICAL UNIT RESET (SAM-5): abort every task, restore mode parameters, and establish
   * BUS DEVICE RESET FUNCTION OCCURRED for every I_T nexus. Resolves once no aborted I/O is in flight.
   */
  async lunReset(nexus: Nexus, lun: number): Promise<TaskSetResult> {
    const lu = this.unitFor(nexus, lun);
    if (!lu) return 'noLun';
    await this.abortEverywhere([lu], lu.lun);
    await resetLogicalUnit(lu, this.deviceType, this.inventory.nexusIds(), Asc.BUS_DEVICE_RESET_FUNCTION_OCCURRED);
    await this.share(lu, { kind: 'lun-reset', cold: false });
    return 'complete';
  }

  /**
   * Cluster mode: the other nodes reset their copy of the LU before the reset is reported done
   * (lu-sharing.ts). If they cannot be told, the reset stands here and the failure is logged: the
   * reset itself happened, and the other nodes' initiators keep their tasks.
   */
  private async share(lu: LogicalUnit, event: SharedLuEvent): Promise<void> {
    if (!lu.sharing) return;
    try {
      await lu.sharing.publish(event);
    } catch (err) {
      this.logger?.error({ err, target: lu.targetName, lun: lu.lun, kind: event.kind }, 'cluster: a reset of this LU did not reach the other nodes');
    }
  }

  /**
   * Cluster mode: another node reset LU `lun` or changed its mode parameters (lu-sharing.ts); this
   * node's copy follows, with the unit attentions for this node's nexuses.
   */
  async applySharedEvent(lun: number, event: SharedLuEvent): Promise<void> {
    const lu = this.inventory.get(lun);
    if (!lu) return;
    if (event.kind === 'lun-reset') {
      await this.abortEverywhere([lu], lu.lun);
      const ua = event.cold ? Asc.POWER_ON_OCCURRED : Asc.BUS_DEVICE_RESET_FUNCTION_OCCURRED;
      await resetLogicalUnit(lu, this.deviceType, this.inventory.nexusIds(), ua);
      return;
    }
    const changed =
      lu.descriptorSense !== event.descriptorSense || lu.softwareWriteProtect !== event.softwareWriteProtect || lu.writeCacheEnabled !== event.writeCacheEnabled;
    lu.descriptorSense = event.descriptorSense;
    lu.softwareWriteProtect = event.softwareWriteProtect;
    lu.setWriteCacheEnabled(event.writeCacheEnabled);
    if (changed) this.inventory.attentionToAll(lu, Asc.MODE_PARAMETERS_CHANGED);
  }

  /**
   * TARGET WARM RESET: a LU reset of every LU (29h/03h). TARGET COLD RESET is a power on
   * (RFC 7143 says so), so it reports POWER ON OCCURRED (29h/01h); the transport drops the connections.
   */
  async targetReset(_nexus: Nexus, kind: 'warm' | 'cold'): Promise<'complete'> {
    const ua = kind === 'cold' ? Asc.POWER_ON_OCCURRED : Asc.BUS_DEVICE_RESET_FUNCTION_OCCURRED;
    await this.abortEverywhere(this.inventory.units(), undefined);
    await Promise.all(this.inventory.units().map((lu) => resetLogicalUnit(lu, this.deviceType, this.inventory.nexusIds(), ua)));
    await Promise.all(this.inventory.units().map((lu) => this.share(lu, { kind: 'lun-reset', cold: kind === 'cold' })));
    return 'complete';
  }

  /**
   * Every nexus's transport lets go of its tasks on the target's LUN `lun` (every LU if undefined),
   * each under the number it uses for it, while the core aborts those it holds.
   */
  private async abortEverywhere(lus: readonly LogicalUnit[], lun: number | undefined): Promise<void> {
    const transports = this.nexusAborts.abortEverywhere(lun, (nexusId, l) => this.views.initiatorLun(nexusId, l));
    for (const lu of lus) abortAll(lu, () => true);
    await transports;
  }
}

/** `base` with more handlers (the opcode table and REPORT SUPPORTED OPERATION CODES see them); the rest as is. */
function withCommands(base: DeviceType, extra: readonly CommandHandler[]): DeviceType {
  const has = (h: CommandHandler): boolean => base.handlers.some((b) => b.opcode === h.opcode && b.serviceAction === h.serviceAction);
  const handlers = Object.freeze([...base.handlers, ...extra.filter((h) => !has(h))]);
  return Object.freeze(Object.create(base, { handlers: { value: handlers, enumerable: true } }) as DeviceType);
}

/** `base` as the target looks with ALUA on: its getters (live LUN lists) stay live. */
function withAlua(base: TargetInfo, deviceType: DeviceType, alua: AluaProvider): TargetInfo {
  return Object.create(base, {
    deviceType: { value: deviceType, enumerable: true },
    alua: { value: alua, enumerable: true },
  }) as TargetInfo;
}
