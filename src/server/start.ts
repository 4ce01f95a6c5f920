/** Start-up wiring: a validated config in, a running Scatter out. */
import type { Logger } from 'pino';
import { ControlPlane } from '../control/control-plane.js';
import { ConfigFile } from '../config/config-file.js';
import { toFileForm } from '../config/file-form.js';
import { applyEnvOverrides, pinnedConflicts, withFileValues, type EnvOverrides } from '../config/env-overrides.js';
import { startAdminListener, type AdminListener, type AdminListenerOptions } from '../admin/listener.js';
import { Mempool } from '../block/mempool.js';
import { adminTokenPath, type Config } from '../config/schema.js';
import { IscsiServer } from '../iscsi/iscsi-server.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { serverMetricsSources } from '../metrics/server-sources.js';
import { LiveLuns } from '../runtime/live-luns.js';
import { LiveSettings } from '../runtime/live-settings.js';
import { LiveTargets } from '../runtime/live-targets.js';
import { LunRegistry } from '../runtime/lun-registry.js';
import type { LunOpenContext } from '../runtime/open-lun.js';
import { buildIscsiTarget, openTargetLuns } from '../runtime/open-target.js';
import { iscsiServerOptions } from './iscsi-options.js';
import { reloadFromFile } from './reload.js';
import { clusterAdmin, prepareCluster, type ClusterWiring } from './cluster-wiring.js';

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
  /** Port of the admin listener (GET /metrics, /healthz, /v1); undefined when `admin.enabled` is false. */
  readonly adminPort: number | undefined;
  /** The running model and the one way to change it (admin API, SIGHUP). */
  readonly control: ControlPlane;
  /** Cluster mode only: the node, its lease, owners and shared config. */
  readonly cluster: ClusterWiring | undefined;
  /**
   * Re-read the config file Scatter started from and apply it (control/), logging the outcome;
   * never rejects. One change at a time.
   */
  reload(): Promise<void>;
  /** Ask initiators to log out, wait up to `graceMs`, close everything (a reload under way finishes first). */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  /** The file `config` was read from: reload() reads it again. */
  readonly configPath?: string;
  /** Admin listener settings the config file does not hold (tests: shorter auth limits, extra routes). */
  readonly admin?: Pick<AdminListenerOptions, 'authLimits' | 'routes'>;
  /** What the environment set over the file (`config` has it already): applied again at each reload, never written. */
  readonly overrides?: EnvOverrides;
}

/** Open every backstore, build the SCSI and iSCSI layers from a validated config, and listen. */
export async function startScatter(fileConfig: Config, log: Logger, opts: StartOptions = {}): Promise<Scatter> {
  const path = opts.configPath;
  // The file the config came from: where every change is persisted (comments kept, backups beside it).
  const file = path === undefined ? undefined : await ConfigFile.open(path);
  // Cluster mode: targets, backstores and discovery auth come from etcd (seeded from this file by the first node).
  const cluster = fileConfig.cluster ? await prepareCluster(fileConfig.cluster, fileConfig, log) : undefined;
  const config = cluster?.config ?? fileConfig;
  try {
    return await startNode(config, log, opts, file, cluster);
  } catch (err) {
    await cluster?.close().catch(() => undefined);
    throw err;
  }
}

async function startNode(config: Config, log: Logger, opts: StartOptions, file: ConfigFile | undefined, cluster: ClusterWiring | undefined): Promise<Scatter> {
  const path = opts.configPath;
  const env = opts.overrides;

  const pool = new Mempool({ pages: config.memory.poolPages, pageSize: config.memory.pageSize });
  const context: LunOpenContext = { pool, poolWaitMs: config.memory.poolWaitMs, stateDir: config.stateDir, log, ...cluster?.context };
  const lunRegistry = new LunRegistry();
  const iscsi = new IscsiServer(iscsiServerOptions(config), log);
  try {
    for (const t of config.targets) {
      const entries = await openTargetLuns(t, lunRegistry, context);
      iscsi.targets.add(buildIscsiTarget(t, config.iscsi.portals, entries, context));
    }
  } catch (err) {
    await lunRegistry.closeAll();
    throw err;
  }
  const ports = await iscsi.start();
  const luns = new LiveLuns({ targets: iscsi.targets, registry: lunRegistry, context });
  const control: ControlPlane = new ControlPlane({
    config: withBoundPorts(config, ports),
    runtime: {
      luns,
      targets: new LiveTargets({ iscsi, registry: lunRegistry, context }),
      settings: new LiveSettings(iscsi),
      logoutGraceMs: 2000,
    },
    faultOf: (iqn, lun) => luns.faultOf(iqn, lun),
    ...(cluster && { onApplied: () => cluster.track(lunRegistry) }),
    persistence: cluster
      ? cluster.configStore.persistence(async (): Promise<Config> => {
          // Without a file (tests, embedded use) the node-local part is what runs, bound ports and all.
          if (!file) return control.desired;
          const local = await file.reread();
          return env ? applyEnvOverrides(local, env, file.path) : local;
        })
      : file && {
      reread: async () => (env ? applyEnvOverrides(await file.reread(), env, file.path) : file.reread()),
      commit: async (_was, next) => {
        // The file form: a config validates only as it is written (a named backstore by its name).
        const result = await file.commit(toFileForm(env ? withFileValues(next, file.current, env) : next));
        if (result.warning !== undefined) log.warn({ config: file.path, backup: result.backup }, result.warning);
      },
      listBackups: () => file.listBackups(),
    },
    ...(env && { pinned: (desired: Config, next: Config) => pinnedConflicts(desired, next, env) }),
    log,
  });
  let admin: AdminListener | undefined;
  try {
    if (config.admin.enabled) {
      const registry = createMetricsRegistry(serverMetricsSources(iscsi, lunRegistry, pool, cluster?.node));
      admin = await startAdminListener(
        { host: config.admin.host, port: config.admin.port, tokenFile: adminTokenPath(config), ...opts.admin },
        { iscsi, lunRegistry, luns, config, control, log, ...(cluster && { cluster: clusterAdmin(cluster, iscsi, lunRegistry) }) },
        registry,
      );
    }
  } catch (err) {
    await iscsi.stop(0);
    await lunRegistry.closeAll();
    throw err;
  }
  if (admin && config.admin.port === 0) control.adoptBoundAdminPort(admin.port);
  if (cluster) {
    // Another node reset an LU or changed its mode parameters: this node's copy follows.
    cluster.node.onLuEvent(async (lu, event) => {
      await iscsi.targets.get(lu.iqn)?.scsi.applySharedEvent(lu.lun, event);
    });
    try {
      await cluster.node.join({
        portals: config.iscsi.portals.map((p, i) => `${p.host}:${ports[i] ?? p.port}`),
        ...(admin && { admin: `http://${config.admin.host}:${admin.port}` }),
      });
      await cluster.track(lunRegistry);
    } catch (err) {
      await admin?.close();
      await iscsi.stop(0);
      await lunRegistry.closeAll();
      throw err;
    }
    // Another node changed the shared config: apply it here too (one change at a time, like SIGHUP).
    cluster.configStore.onRemoteChange(() => void reloadFromFile(control, `etcd ${cluster.node.keys.config}`, log));
  }
  let stopping: Promise<void> | undefined;
  return {
    iscsi,
    pool,
    lunRegistry,
    luns,
    ports,
    adminPort: admin?.port,
    control,
    cluster,
    reload: () => reloadFromFile(control, path ?? '(none)', log),
    stop: (graceMs = 2000) =>
      (stopping ??= (async () => {
        await control.idle();
        await admin?.close();
        await iscsi.stop(graceMs);
        // After the portals: nothing is served any more when the lease goes and other nodes take over.
        await cluster?.close();
        await lunRegistry.closeAll();
      })()),
  };
}

/** The model holds the ports really bound where the config asked for any free one (port 0, in tests). */
function withBoundPorts(config: Config, ports: readonly number[]): Config {
  return {
    ...config,
    iscsi: { ...config.iscsi, portals: config.iscsi.portals.map((p, i) => (p.port === 0 ? { ...p, port: ports[i] ?? 0 } : p)) },
  };
}
