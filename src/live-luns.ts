import type { Logger } from 'pino';
import type { ResizeRequest } from './block/backstore.js';
import type { BlockQueue } from './block/queue.js';
import type { LunConfig, TargetConfig } from './config/schema.js';
import type { TargetRegistry } from './iscsi/target.js';
import type { LogicalUnit } from './scsi/logical-unit.js';
import type { ScsiTargetCore } from './scsi/target-core.js';
import type { DeviceState } from './block/health.js';

/** Opens one LUN's backstore and builds its queue and LU (server.ts openLun, with the pool bound). */
export type LunOpener = (target: TargetConfig, lun: LunConfig) => Promise<{ unit: LogicalUnit; queue: BlockQueue }>;

/** The LU of a LUN whose storage could not be opened (NOT READY; server.ts failedLun, which logs why). */
export type FailedLunBuilder = (target: TargetConfig, lun: LunConfig, err: unknown) => LogicalUnit;

/** LUs not serving normally, by `${iqn}/${lun}` (see DeviceHealth). */
export type FaultedLuns = ReadonlyMap<string, Exclude<DeviceState, 'serving'>>;

export interface LiveLunsOptions {
  readonly targets: TargetRegistry;
  /** The running server's queues by `${iqn}/${lun}`: shared, so stop() closes exactly the LUNs still served. */
  readonly queues: Map<string, BlockQueue>;
  readonly open: LunOpener;
  readonly failed: FailedLunBuilder;
  readonly log: Logger;
}

/**
 * LUNs of running targets added, removed and resized without a restart. Transport-free: the config
 * reload (reload.ts) and the admin plane call it; the SCSI core raises the unit attentions.
 * Every method rejects with an Error saying what was refused, and then has changed nothing.
 */
export class LiveLuns {
  constructor(private readonly opts: LiveLunsOptions) {}

  /** Opens the backstore and adds the LU to the running target `target.iqn`. */
  async add(target: TargetConfig, lun: LunConfig): Promise<void> {
    const core = this.core(target.iqn);
    if (core.getLogicalUnit(lun.lun)) throw new Error(`${target.iqn}: LUN ${lun.lun} already exists`);
    const { unit, queue } = await this.opts.open(target, lun);
    try {
      core.addLogicalUnit(unit);
    } catch (err) {
      await queue.close().catch(() => {});
      throw err;
    }
    this.opts.queues.set(key(target.iqn, lun.lun), queue);
    this.opts.log.info({ target: target.iqn, lun: lun.lun, backstore: lun.backstore.type, size: queue.size }, 'LUN added');
  }

  /** Takes the LU out (its tasks end, TASK ABORTED), then flushes and closes its backstore. */
  async remove(iqn: string, lun: number): Promise<void> {
    const core = this.core(iqn);
    const unit = await core.removeLogicalUnit(lun);
    if (!unit) throw new Error(`${iqn}: LUN ${lun} does not exist`);
    const k = key(iqn, lun);
    const queue = this.opts.queues.get(k);
    this.opts.queues.delete(k);
    try {
      await (queue ?? unit.device).close();
    } catch (err) {
      // The LU is gone either way; a failed final flush is worth an error in the log, not a live LU.
      this.opts.log.error({ err, target: iqn, lun }, 'closing a removed LUN failed');
    }
    this.opts.log.info({ target: iqn, lun }, 'LUN removed');
  }

  /** Online resize (file/null: to `to.size`; block: re-read the device). Resolves with the sizes in bytes. */
  async resize(iqn: string, lun: number, to: ResizeRequest): Promise<{ oldSize: number; newSize: number }> {
    const sizes = await this.core(iqn).resizeLogicalUnit(lun, to);
    if (sizes.newSize !== sizes.oldSize) this.opts.log.info({ target: iqn, lun, ...sizes }, 'LUN resized');
    return sizes;
  }

  /** Every LU whose storage is offline or whose write-back failed: what a reload tries to bring back. */
  faulted(): FaultedLuns {
    const out = new Map<string, Exclude<DeviceState, 'serving'>>();
    for (const t of this.opts.targets.all()) {
      for (const lun of t.scsi.lunNumbers) {
        const state = t.scsi.getLogicalUnit(lun)?.device.health?.state;
        if (state && state !== 'serving') out.set(key(t.iqn, lun), state);
      }
    }
    return out;
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
    const k = key(target.iqn, lun.lun);
    const queue = this.opts.queues.get(k);
    this.opts.queues.delete(k);
    try {
      await (queue ?? old.device).close();
    } catch (err) {
      this.opts.log.error({ err, target: target.iqn, lun: lun.lun }, 'closing a failed LUN before opening it again failed');
    }
    let opened: { unit: LogicalUnit; queue: BlockQueue };
    try {
      opened = await this.opts.open(target, lun);
    } catch (err) {
      await core.replaceLogicalUnit(this.opts.failed(target, lun, err), { powerOn: false });
      throw new Error(`${target.iqn}: LUN ${lun.lun} still cannot be opened: ${err instanceof Error ? err.message : String(err)}`);
    }
    await core.replaceLogicalUnit(opened.unit, { powerOn: true });
    this.opts.queues.set(k, opened.queue);
    this.opts.log.info({ target: target.iqn, lun: lun.lun, backstore: lun.backstore.type, size: opened.queue.size }, 'LUN opened again');
  }

  /**
   * A reload acknowledges a failed write-back (fdatasync EIO): SYNCHRONIZE CACHE and FUA writes are
   * served again. Whatever the failed write-back lost stays lost; the operator was told at error.
   */
  async recover(iqn: string, lun: number): Promise<void> {
    const lu = this.core(iqn).getLogicalUnit(lun);
    if (!lu) throw new Error(`${iqn}: LUN ${lun} does not exist`);
    if (lu.device.health?.clearWritebackFailure()) {
      this.opts.log.warn({ target: iqn, lun }, 'failed write-back acknowledged by a reload: SYNCHRONIZE CACHE and FUA writes are served again');
    }
  }

  private core(iqn: string): ScsiTargetCore {
    const target = this.opts.targets.get(iqn);
    if (!target) throw new Error(`no target ${iqn}`);
    return target.scsi;
  }
}

function key(iqn: string, lun: number): string {
  return `${iqn}/${lun}`;
}
