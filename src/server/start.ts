/** Start-up wiring: a validated config in, a running Scatter out. */
import type { Logger } from 'pino';
import { ConfigReloader } from '../reload/reloader.js';
import { startAdminListener, type AdminListener } from '../admin/listener.js';
import { Mempool } from '../block/mempool.js';
import type { Config, TargetConfig } from '../config/schema.js';
import { chapConfigFromAuth } from '../iscsi/chap.js';
import { IscsiServer } from '../iscsi/iscsi-server.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { serverMetricsSources } from '../metrics/server-sources.js';
import { LiveLuns } from '../runtime/live-luns.js';
import { LunRegistry, type LunEntry } from '../runtime/lun-registry.js';
import { failedLun, openLun, type LunOpenContext } from '../runtime/open-lun.js';
import { targetAccessFromConfig } from '../runtime/target-access.js';
import { ScsiTargetCore } from '../scsi/target-core.js';
import { iscsiServerOptions } from './iscsi-options.js';

/** A running Scatter: the iSCSI server and everything behind it. */
export interface Scatter {
  readonly iscsi: IscsiServer;
  readonly pool: Mempool;
  /** Every LUN of the running targets, with its LU, queue and state (metrics and the admin plane read it). */
  readonly lunRegistry: LunRegistry;
  /** Add, remove and resize LUNs of the running targets (config reload, admin plane). */
  readonly luns: LiveLuns;
  /** Ports bound, in the order of config.iscsi.portals. */
  readonly ports: readonly number[];
  /** Port of the admin listener (GET /metrics, /healthz); undefined when `admin.enabled` is false. */
  readonly adminPort: number | undefined;
  /**
   * Re-read the config file Scatter started from and apply what can change live (reload/): one
   * reload at a time. Rejects when Scatter was started without a file.
   */
  reload(): Promise<void>;
  /** Ask initiators to log out, wait up to `graceMs`, close everything (a reload under way finishes first). */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  /** The file `config` was read from: reload() reads it again. */
  readonly configPath?: string;
}

/** Opens every LUN of `target` into `registry`: one that cannot be opened does not stop the others, it is served as failed (NOT READY). */
async function openTarget(target: TargetConfig, registry: LunRegistry, ctx: LunOpenContext): Promise<LunEntry[]> {
  const entries: LunEntry[] = [];
  for (const lun of target.luns) {
    let entry: LunEntry;
    try {
      entry = await openLun(target, lun, ctx);
      ctx.log.info({ target: target.iqn, lun: lun.lun, backstore: lun.backstore.type, size: entry.unit.device.size }, 'LUN ready');
    } catch (err) {
      entry = failedLun(target, lun, err, ctx);
    }
    registry.set(entry);
    entries.push(entry);
  }
  return entries;
}

/** Open every backstore, build the SCSI and iSCSI layers from a validated config, and listen. */
export async function startScatter(config: Config, log: Logger, opts: StartOptions = {}): Promise<Scatter> {
  const pool = new Mempool({ pages: config.memory.poolPages, pageSize: config.memory.pageSize });
  const context: LunOpenContext = { pool, poolWaitMs: config.memory.poolWaitMs, stateDir: config.stateDir, log };
  const lunRegistry = new LunRegistry();
  const iscsi = new IscsiServer(iscsiServerOptions(config), log);
  try {
    for (const t of config.targets) {
      const units = (await openTarget(t, lunRegistry, context)).map((e) => e.unit);
      iscsi.targets.add({
        iqn: t.iqn,
        alias: t.alias,
        portalGroupTag: 1,
        portals: config.iscsi.portals,
        chap: chapConfigFromAuth(t.auth) ?? undefined,
        scsi: new ScsiTargetCore({ targetName: t.iqn, luns: units, logger: log }),
        access: targetAccessFromConfig(t),
      });
    }
  } catch (err) {
    await lunRegistry.closeAll();
    throw err;
  }
  const ports = await iscsi.start();
  let admin: AdminListener | undefined;
  try {
    if (config.admin.enabled) {
      const registry = createMetricsRegistry(serverMetricsSources(iscsi, lunRegistry, pool));
      admin = await startAdminListener(config.admin, registry, log);
    }
  } catch (err) {
    await iscsi.stop(0);
    await lunRegistry.closeAll();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  const luns = new LiveLuns({ targets: iscsi.targets, registry: lunRegistry, context });
  const reloader = opts.configPath === undefined ? undefined : new ConfigReloader(opts.configPath, config, luns, log);
  return {
    iscsi,
    pool,
    lunRegistry,
    luns,
    ports,
    adminPort: admin?.port,
    reload: () => (reloader ? reloader.reload() : Promise.reject(new Error('started without a config file: nothing to reload'))),
    stop: (graceMs = 2000) =>
      (stopping ??= (async () => {
        await reloader?.idle();
        await admin?.close();
        await iscsi.stop(graceMs);
        await lunRegistry.closeAll();
      })()),
  };
}
