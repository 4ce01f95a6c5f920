import type { Logger } from 'pino';
import type { ResizeRequest } from './backstore/backstore.js';
import type { BlockQueue } from './block/queue.js';
import type { LunConfig, TargetConfig } from './config/schema.js';
import type { TargetRegistry } from './iscsi/target.js';
import type { LogicalUnit } from './scsi/logical-unit.js';
import type { ScsiTargetCore } from './scsi/target-core.js';

/** Opens one LUN's backstore and builds its queue and LU (server.ts openLun, with the pool bound). */
export type LunOpener = (target: TargetConfig, lun: LunConfig) => Promise<{ unit: LogicalUnit; queue: BlockQueue }>;

export interface LiveLunsOptions {
  readonly targets: TargetRegistry;
  /** The running server's queues by `${iqn}/${lun}`: shared, so stop() closes exactly the LUNs still served. */
  readonly queues: Map<string, BlockQueue>;
  readonly open: LunOpener;
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

  private core(iqn: string): ScsiTargetCore {
    const target = this.opts.targets.get(iqn);
    if (!target) throw new Error(`no target ${iqn}`);
    return target.scsi;
  }
}

function key(iqn: string, lun: number): string {
  return `${iqn}/${lun}`;
}
