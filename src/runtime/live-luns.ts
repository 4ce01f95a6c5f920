import type { ResizeRequest } from '../block/backstore.js';
import type { LunConfig, TargetConfig } from '../config/schema.js';
import type { TargetRegistry } from '../iscsi/target.js';
import type { ScsiTargetCore } from '../scsi/target-core.js';
import type { LunFault, LunRegistry } from './lun-registry.js';
import { logLuState, luWhere } from './lu-state-log.js';
import { failedLun, openLun, type LunOpenContext } from './open-lun.js';

export interface LiveLunsOptions {
  readonly targets: TargetRegistry;
  /** The running server's LUNs: shared, so stop() closes exactly the LUNs still served. */
  readonly registry: LunRegistry;
  readonly context: LunOpenContext;
}

/**
 * LUNs of running targets added, removed, resized and opened again without a restart.
 * Transport-free: the config reload (reload/) and the admin plane call it; the SCSI core raises
 * the unit attentions. Every method rejects with an Error saying what was refused, and then has
 * changed nothing.
 */
export class LiveLuns {
  constructor(private readonly opts: LiveLunsOptions) {}

  /** Opens the backstore and adds the LU to the running target `target.iqn`. */
  async add(target: TargetConfig, lun: LunConfig): Promise<void> {
    const core = this.core(target.iqn);
    if (core.getLogicalUnit(lun.lun)) throw new Error(`${target.iqn}: LUN ${lun.lun} already exists`);
    const opened = await openLun(target, lun, this.opts.context);
    try {
      core.addLogicalUnit(opened.unit);
    } catch (err) {
      await opened.queue?.close().catch(() => {});
      throw err;
    }
    this.opts.registry.set(opened);
    logLuState(this.log, 'info', { ...luWhere(opened), change: 'added', backstore: lun.backstore.type, size: opened.unit.device.size }, 'LUN added');
  }

  /** Takes the LU out (its tasks end, TASK ABORTED), then flushes and closes its backstore. */
  async remove(iqn: string, lun: number): Promise<void> {
    const core = this.core(iqn);
    const unit = await core.removeLogicalUnit(lun);
    if (!unit) throw new Error(`${iqn}: LUN ${lun} does not exist`);
    const entry = this.opts.registry.delete(iqn, lun);
    try {
      await (entry?.queue ?? unit.device).close();
    } catch (err) {
      // The LU is gone either way; a failed final flush is worth an error in the log, not a live LU.
      this.log.error({ err, target: iqn, lun }, 'closing a removed LUN failed');
    }
    logLuState(this.log, 'info', { ...(entry ? luWhere(entry) : { target: iqn, lun }), change: 'removed' }, 'LUN removed');
  }

  /** Online resize (file/null: to `to.size`; block: re-read the device). Resolves with the sizes in bytes. */
  async resize(iqn: string, lun: number, to: ResizeRequest): Promise<{ oldSize: number; newSize: number }> {
    const sizes = await this.core(iqn).resizeLogicalUnit(lun, to);
    if (sizes.newSize !== sizes.oldSize) logLuState(this.log, 'info', { ...this.where(iqn, lun), change: 'resized', ...sizes }, 'LUN resized');
    return sizes;
  }

  /** The LUN's fault (offline, failed write-back): what a reload tries to bring back. */
  faultOf(iqn: string, lun: number): LunFault | undefined {
    return this.opts.registry.faultOf(iqn, lun);
  }

  /**
   * Opens an offline LU again (a reload: the operator may have restored the file, plugged the
   * device, fixed the config): its commands still under way end, its storage is closed, then
   * opened anew from `lun` and put in its place; initiators get POWER ON, RESET on it. If it still
   * cannot be opened it stays NOT READY (with the new reason) and this rejects.
   */
  async reopen(target: TargetConfig, lun: LunConfig): Promise<void> {
    const core = this.core(target.iqn);
    const old = core.getLogicalUnit(lun.lun);
    if (!old) throw new Error(`${target.iqn}: LUN ${lun.lun} does not exist`);
    // NOT READY for whatever arrives meanwhile; the old tasks end before the storage is closed
    // (a block device is opened exclusively, so the new open needs the old fd gone).
    old.device.health?.takeOffline('reopening', 'being opened again');
    await core.quiesceLogicalUnit(lun.lun);
    const was = this.opts.registry.get(target.iqn, lun.lun);
    // Until the new LU is in place the old one (offline) stands for the LUN; its queue no longer.
    if (was) this.opts.registry.set({ ...was, queue: undefined });
    try {
      await (was?.queue ?? old.device).close();
    } catch (err) {
      this.log.error({ err, target: target.iqn, lun: lun.lun }, 'closing a failed LUN before opening it again failed');
    }
    let opened;
    try {
      opened = await openLun(target, lun, this.opts.context);
    } catch (err) {
      const failed = failedLun(target, lun, err, this.opts.context);
      await core.replaceLogicalUnit(failed.unit, { powerOn: false });
      this.opts.registry.set(failed);
      throw new Error(`${target.iqn}: LUN ${lun.lun} still cannot be opened: ${err instanceof Error ? err.message : String(err)}`);
    }
    await core.replaceLogicalUnit(opened.unit, { powerOn: true });
    this.opts.registry.set(opened);
    logLuState(
      this.log,
      'info',
      { ...luWhere(opened), change: 'reopened', backstore: lun.backstore.type, size: opened.unit.device.size },
      'LUN opened again',
    );
  }

  /**
   * A reload acknowledges a failed write-back (fdatasync EIO): SYNCHRONIZE CACHE and FUA writes are
   * served again. Whatever the failed write-back lost stays lost; the operator was told at error.
   */
  async recover(iqn: string, lun: number): Promise<void> {
    const lu = this.core(iqn).getLogicalUnit(lun);
    if (!lu) throw new Error(`${iqn}: LUN ${lun} does not exist`);
    if (lu.device.health?.clearWritebackFailure()) {
      logLuState(
        this.log,
        'warn',
        { ...this.where(iqn, lun), change: 'writeback_acknowledged' },
        'failed write-back acknowledged by a reload: SYNCHRONIZE CACHE and FUA writes are served again',
      );
    }
  }

  /** What an lu_state line names: the LUN's path from the registry (the target's IQN as configured). */
  private where(iqn: string, lun: number): { target: string; lun: number; path?: string } {
    const entry = this.opts.registry.get(iqn, lun);
    return entry ? luWhere(entry) : { target: iqn, lun };
  }

  private get log(): LunOpenContext['log'] {
    return this.opts.context.log;
  }

  private core(iqn: string): ScsiTargetCore {
    const target = this.opts.targets.get(iqn);
    if (!target) throw new Error(`no target ${iqn}`);
    return target.scsi;
  }
}
