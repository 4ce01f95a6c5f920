import type { BlockDevice } from '../block/device.js';
import type { Nexus } from './command.js';
import type { DeviceType } from './device-type.js';
import { ScsiError } from './errors.js';
import type { LogicalUnit } from './logical-unit.js';
import { Asc, type AscPair } from './sense-reasons.js';
import { abortAll, settled } from './task-management.js';

/** What an online resize asks of an LU's device (the block layer's device contract says what it may be). */
export type ResizeRequest = Parameters<NonNullable<BlockDevice['resize']>>[0];

/**
 * The LUs and I_T nexuses of one SCSI target, and the unit attentions that changes to them owe
 * (SPC-4, SBC-4): a new nexus or LU gets POWER ON, the inventory changing gets REPORTED LUNS DATA
 * HAS CHANGED, a capacity change CAPACITY DATA HAS CHANGED.
 */
export class LuInventory {
  private readonly lus = new Map<number, LogicalUnit>();
  private readonly nexuses = new Map<number, Nexus>();
  /** The LUN inventory, sorted; replaced (never mutated) when an LU is added or removed. */
  private lunList: readonly number[] = [];
  /** Unsubscribe from each LU's capacity changes (a block device that shrank underneath). */
  private readonly detachers = new Map<LogicalUnit, () => void>();

  constructor(
    luns: readonly LogicalUnit[],
    private readonly deviceType: DeviceType,
  ) {
    for (const lu of luns) {
      if (this.lus.has(lu.lun)) throw new ScsiError('LUN_EXISTS', `LUN ${lu.lun} configured twice`);
      this.lus.set(lu.lun, lu);
      this.attach(lu);
    }
    this.lunList = sortedLuns(this.lus);
  }

  /** The LUNs that have an LU, ascending (what REPORT LUNS lists). */
  get lunNumbers(): readonly number[] {
    return this.lunList;
  }

  get(lun: number): LogicalUnit | undefined {
    return this.lus.get(lun);
  }

  units(): LogicalUnit[] {
    return [...this.lus.values()];
  }

  nexusIds(): IterableIterator<number> {
    return this.nexuses.keys();
  }

  hasNexus(id: number): boolean {
    return this.nexuses.has(id);
  }

  /**
   * A new LU. Each I_T nexus gets POWER ON, RESET, OR BUS DEVICE RESET OCCURRED on it (as if it had
   * been there at login) and REPORTED LUNS DATA HAS CHANGED on every other LU (SPC-4 REPORT LUNS:
   * the inventory changed, so every I_T nexus is told; it can only be told through an LU it can address).
   */
  add(lu: LogicalUnit): void {
    if (this.lus.has(lu.lun)) throw new ScsiError('LUN_EXISTS', `LUN ${lu.lun} already exists`);
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

  /** See ScsiTargetCore.removeLogicalUnit. */
  async remove(lun: number): Promise<LogicalUnit | undefined> {
    const lu = this.lus.get(lun);
    if (!lu) return undefined;
    this.lus.delete(lun);
    this.detach(lu);
    this.lunList = sortedLuns(this.lus);
    const aborted = abortAll(lu, () => true);
    for (const other of this.lus.values()) this.attentionToAll(other, Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
    await settled(aborted);
    return lu;
  }

  /** See ScsiTargetCore.replaceLogicalUnit. */
  async replace(lu: LogicalUnit, opts: { powerOn: boolean }): Promise<LogicalUnit> {
    const old = this.lus.get(lu.lun);
    if (!old) throw new ScsiError('LUN_NOT_FOUND', `LUN ${lu.lun} does not exist`);
    this.lus.set(lu.lun, lu);
    this.detach(old);
    this.attach(lu);
    for (const nexus of this.nexuses.values()) {
      if (opts.powerOn) pushUa(lu, nexus.id, Asc.POWER_ON_RESET_OR_BUS_DEVICE_RESET);
      lu.reservations.nexusAdded(nexus);
    }
    await settled(abortAll(old, () => true));
    return old;
  }

  /** See ScsiTargetCore.resizeLogicalUnit. */
  async resize(lun: number, to: ResizeRequest): Promise<{ oldSize: number; newSize: number }> {
    const lu = this.lus.get(lun);
    if (!lu) throw new ScsiError('LUN_NOT_FOUND', `LUN ${lun} does not exist`);
    if (!lu.device.resize) throw new ScsiError('NOT_RESIZABLE', `LUN ${lun}: its device cannot be resized`);
    const oldSize = lu.device.size;
    const newSize = await lu.device.resize(to);
    if (newSize !== oldSize) this.attentionToAll(lu, Asc.CAPACITY_DATA_HAS_CHANGED);
    return { oldSize, newSize };
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
      this.deviceType.nexusLost(lu, nexus.id);
      lu.reservations.nexusRemoved(nexus);
    }
  }

  /** Establishes `ua` on `lu` for one I_T nexus. */
  attention(lu: LogicalUnit, nexusId: number, ua: AscPair): void {
    pushUa(lu, nexusId, ua);
  }

  /** Establishes `ua` on `lu` for every I_T nexus. */
  attentionToAll(lu: LogicalUnit, ua: AscPair): void {
    for (const id of this.nexuses.keys()) pushUa(lu, id, ua);
  }

  /** A device that shrank underneath (found by I/O past its new end) raises CAPACITY DATA HAS CHANGED, like a resize. */
  private attach(lu: LogicalUnit): void {
    const off = lu.device.health?.onCapacityChange(() => {
      if (this.lus.get(lu.lun) !== lu) return;
      this.attentionToAll(lu, Asc.CAPACITY_DATA_HAS_CHANGED);
    });
    if (off) this.detachers.set(lu, off);
  }

  private detach(lu: LogicalUnit): void {
    this.detachers.get(lu)?.();
    this.detachers.delete(lu);
  }
}

function sortedLuns(lus: ReadonlyMap<number, LogicalUnit>): readonly number[] {
  return [...lus.keys()].sort((a, b) => a - b);
}

function pushUa(lu: LogicalUnit, nexusId: number, [asc, ascq]: AscPair): void {
  lu.unitAttentions.push(nexusId, { asc, ascq });
}
