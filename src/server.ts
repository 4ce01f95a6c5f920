import type { Logger } from 'pino';
import { startAdminListener, type AdminListener } from './admin/listener.js';
import type { Backstore } from './backstore/backstore.js';
import { BlockBackstore } from './backstore/block.js';
import { FileBackstore } from './backstore/file.js';
import { openBackstore } from './backstore/open.js';
import { Mempool } from './block/mempool.js';
import { BlockQueue } from './block/queue.js';
import type { Config, LunConfig, TargetConfig } from './config/schema.js';
import { chapConfigFromAuth } from './iscsi/chap.js';
import { IscsiServer } from './iscsi/iscsi-server.js';
import type { TargetNegotiationConfig } from './iscsi/session-params.js';
import type { IscsiTarget } from './iscsi/target.js';
import { createMetricsRegistry } from './metrics/registry.js';
import { serverMetricsSources } from './metrics/server-sources.js';
import { LogicalUnit } from './scsi/logical-unit.js';
import { reservationFilePath, reservationStatePath } from './scsi/pr/file-path.js';
import { FileReservationStore } from './scsi/pr/file-store.js';
import { deriveNaaId } from './scsi/naa.js';
import { ScsiTargetCore } from './scsi/target-core.js';
import { atomicJournalFilePath, atomicJournalStatePath } from './scsi/sbc/atomic-journal-path.js';
import { openAtomicJournal } from './scsi/sbc/atomic-setup.js';
import { LiveLuns } from './live-luns.js';
import { SanitizeMarker } from './scsi/sbc/sanitize-marker.js';
import { lunStateBesideBackingFile, lunStateInStateDir } from './scsi/lun-state-path.js';

/** A running Scatter: the iSCSI server and everything behind it. */
export interface Scatter {
  readonly iscsi: IscsiServer;
  readonly pool: Mempool;
  readonly queues: ReadonlyMap<string, BlockQueue>;
  /** Add, remove and resize LUNs of the running targets (config reload, admin plane). */
  readonly luns: LiveLuns;
  /** Ports bound, in the order of config.iscsi.portals. */
  readonly ports: readonly number[];
  /** Port of the admin listener (GET /metrics, /healthz); undefined when `admin.enabled` is false. */
  readonly adminPort: number | undefined;
  /** Ask initiators to log out, wait up to `graceMs`, close everything. */
  stop(graceMs?: number): Promise<void>;
}

export function negotiationFromConfig(c: Config['iscsi']): TargetNegotiationConfig {
  return {
    maxRecvDataSegmentLength: c.maxRecvDataSegmentLength,
    maxBurstLength: c.maxBurstLength,
    firstBurstLength: c.firstBurstLength,
    maxOutstandingR2T: c.maxOutstandingR2T,
    immediateData: c.immediateData,
    initialR2T: c.initialR2T,
    headerDigests: c.headerDigest,
    dataDigests: c.dataDigest,
    defaultTime2Wait: 2,
    defaultTime2Retain: 0,
  };
}

async function openLun(
  target: TargetConfig,
  lun: LunConfig,
  pool: Mempool,
  poolWaitMs: number,
  stateDir: string,
  log: Logger,
): Promise<{ unit: LogicalUnit; queue: BlockQueue; backstore: Backstore }> {
  const spec = lun.backstore;
  const backstore = await openBackstore(
    spec.type === 'file'
      ? {
          type: 'file',
          path: spec.path,
          size: spec.size,
          blockSize: spec.blockSize,
          readOnly: lun.readOnly,
          writeCache: spec.writeCache,
          thin: spec.thin,
          direct: spec.direct,
          physicalBlockSize: spec.physicalBlockSize,
        }
      : spec.type === 'block'
        ? { type: 'block', path: spec.path, readOnly: lun.readOnly, writeCache: spec.writeCache }
        : { type: 'null', size: spec.size, blockSize: spec.blockSize },
  );
  const queue = new BlockQueue(backstore, pool, { poolWaitMs });
  // WRITE ATOMIC(16): a crash's leftover record lands (or a torn one is dropped) before the LU is served.
  const atomicJournal = await openAtomicJournal({
    path:
      spec.type === 'file'
        ? atomicJournalFilePath(spec.path, target.iqn, lun.lun)
        : spec.type === 'block'
          ? atomicJournalStatePath(stateDir, target.iqn, lun.lun)
          : undefined,
    readOnly: lun.readOnly,
    device: queue,
    log,
    where: { target: target.iqn, lun: lun.lun },
  }).catch(async (err: unknown) => {
    await queue.close().catch(() => undefined);
    throw err;
  });
  const unit = new LogicalUnit({
    lun: lun.lun,
    device: queue,
    readOnly: lun.readOnly,
    writeCacheEnabled: spec.type === 'null' ? true : spec.writeCache,
    // A block device is thin where it can discard (BLKDISCARD / BLKZEROOUT keep LBPRZ true).
    thin: spec.type === 'file' ? spec.thin : backstore instanceof BlockBackstore && backstore.canDiscard,
    removable: lun.removable,
    // MODE SELECT of the caching page (WCE) reaches the backing file.
    setWriteCache: (on: boolean) =>
      backstore instanceof FileBackstore || backstore instanceof BlockBackstore ? backstore.setWriteCache(on) : undefined,
    serial: lun.serial,
    naaId: deriveNaaId(target.iqn.toLowerCase(), lun.lun),
    targetName: target.iqn,
    // APTPL state next to the backing file; a device node's directory (/dev) is no place for it: stateDir.
    reservationStore:
      spec.type === 'file'
        ? new FileReservationStore(reservationFilePath(spec.path, target.iqn, lun.lun))
        : spec.type === 'block'
          ? new FileReservationStore(reservationStatePath(stateDir, target.iqn, lun.lun))
          : undefined,
    atomicJournal,
    sanitizeRate: lun.sanitizeRate,
    // The null backstore keeps nothing: an overwrite could not be read back.
    keepsData: spec.type !== 'null',
    // A sanitize cut short by a restart leaves the LU "sanitize failed" (beside the data, or in stateDir).
    sanitizeMarker:
      spec.type === 'file'
        ? new SanitizeMarker(lunStateBesideBackingFile('sanitize', spec.path, target.iqn, lun.lun))
        : spec.type === 'block'
          ? new SanitizeMarker(lunStateInStateDir('sanitize', stateDir, target.iqn, lun.lun))
          : undefined,
  });
  return { unit, queue, backstore };
}

/** Open every backstore, build the SCSI and iSCSI layers from a validated config, and listen. */
export async function startScatter(config: Config, log: Logger): Promise<Scatter> {
  const pool = new Mempool({ pages: config.memory.poolPages, pageSize: config.memory.pageSize });
  const queues = new Map<string, BlockQueue>();
  const iscsi = new IscsiServer(
    {
      portals: config.iscsi.portals,
      negotiation: negotiationFromConfig(config.iscsi),
      connection: {
        nopInInterval: config.iscsi.nopInInterval,
        nopInTimeout: config.iscsi.nopInTimeout,
        // Stop reading a connection's new PDUs while this much of ours waits for the initiator.
        sendHighWater: Math.min(4 * 1024 * 1024, config.iscsi.maxQueuedBytesPerConnection),
        deadlines: {
          firstPduMs: config.iscsi.firstPduTimeout * 1000,
          pduMs: config.iscsi.pduTimeout * 1000,
          sendStallMs: config.iscsi.sendStallTimeout * 1000,
        },
      },
      discoveryChap: chapConfigFromAuth(config.discoveryAuth) ?? undefined,
      maxCmdWindow: config.iscsi.maxCmdWindow,
      maxBufferedWriteBytes: config.iscsi.maxBufferedWriteBytes,
      maxBufferedWriteBytesPerSession: config.iscsi.maxBufferedWriteBytesPerSession,
      maxBufferedReadBytes: config.iscsi.maxBufferedReadBytes,
      maxQueuedBytesPerConnection: config.iscsi.maxQueuedBytesPerConnection,
      maxImmediateCommands: config.iscsi.maxImmediateCommands,
      dataOutTimeoutMs: config.iscsi.dataOutTimeout * 1000,
      admission: {
        maxConnections: config.iscsi.maxConnections,
        maxPreLogin: config.iscsi.maxPreLoginConnections,
        maxPreLoginPerAddress: config.iscsi.maxPreLoginPerAddress,
      },
      loginTimeoutMs: config.iscsi.loginTimeout * 1000,
      authThrottle: config.iscsi.authThrottle,
    },
    log,
  );
  try {
    for (const t of config.targets) {
      const units: LogicalUnit[] = [];
      for (const l of t.luns) {
        const { unit, queue } = await openLun(t, l, pool, config.memory.poolWaitMs, config.stateDir, log);
        units.push(unit);
        queues.set(`${t.iqn}/${l.lun}`, queue);
        log.info({ target: t.iqn, lun: l.lun, backstore: l.backstore.type, size: queue.size }, 'LUN ready');
      }
      const target: IscsiTarget = {
        iqn: t.iqn,
        alias: t.alias,
        portalGroupTag: 1,
        portals: config.iscsi.portals,
        chap: chapConfigFromAuth(t.auth) ?? undefined,
        scsi: new ScsiTargetCore({ targetName: t.iqn, luns: units, logger: log }),
      };
      iscsi.targets.add(target);
    }
  } catch (err) {
    await Promise.allSettled([...queues.values()].map((q) => q.close()));
    throw err;
  }
  const ports = await iscsi.start();
  let admin: AdminListener | undefined;
  try {
    if (config.admin.enabled) {
      const registry = createMetricsRegistry(serverMetricsSources(iscsi, queues, pool));
      admin = await startAdminListener(config.admin, registry, log);
    }
  } catch (err) {
    await iscsi.stop(0);
    await Promise.allSettled([...queues.values()].map((q) => q.close()));
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    iscsi,
    pool,
    queues,
    luns: new LiveLuns({
      targets: iscsi.targets,
      queues,
      log,
      open: (t, l) => openLun(t, l, pool, config.memory.poolWaitMs, config.stateDir, log),
    }),
    ports,
    adminPort: admin?.port,
    stop: (graceMs = 2000) =>
      (stopping ??= (async () => {
        await admin?.close();
        await iscsi.stop(graceMs);
        await Promise.allSettled([...queues.values()].map((q) => q.close()));
      })()),
  };
}
