import { join } from 'node:path';
import type { Logger } from 'pino';
import { startAdminListener, type AdminListener } from './admin/listener.js';
import type { Backstore } from './block/backstore.js';
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
import { BackingRecords } from './backstore/backing-record.js';
import { BackstoreError } from './block/backstore-error.js';
import { BlockError } from './block/device.js';
import { FailedDevice } from './block/failed-device.js';
import { RateLimitedFaultLog } from './block/fault-log.js';
import { DeviceHealth, faultCauseOf, type FaultCause } from './block/health.js';

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

/** An LU being served: its queue, and the backstore behind it. */
export interface OpenedLun {
  readonly unit: LogicalUnit;
  readonly queue: BlockQueue;
  readonly backstore: Backstore;
}

/** Where the backing files' records live (backstore/backing-record.ts). */
function backingRecords(stateDir: string): BackingRecords {
  return new BackingRecords(join(stateDir, 'backing'));
}

function backingPath(lun: LunConfig): string | undefined {
  return lun.backstore.type === 'null' ? undefined : lun.backstore.path;
}

async function openLun(
  target: TargetConfig,
  lun: LunConfig,
  pool: Mempool,
  poolWaitMs: number,
  stateDir: string,
  log: Logger,
): Promise<OpenedLun> {
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
          create: spec.create,
          records: backingRecords(stateDir),
        }
      : spec.type === 'block'
        ? { type: 'block', path: spec.path, readOnly: lun.readOnly, writeCache: spec.writeCache }
        : { type: 'null', size: spec.size, blockSize: spec.blockSize },
  );
  const where = { target: target.iqn, lun: lun.lun, ...(spec.type === 'null' ? {} : { path: spec.path }) };
  if (backstore instanceof FileBackstore) logFileOpened(backstore, where, log);
  // Backstore errors: counted by cause, logged rate-limited with the LU, path and LBA range.
  const health = new DeviceHealth(new RateLimitedFaultLog({ log, where, blockSize: backstore.blockSize }));
  const queue = new BlockQueue(backstore, pool, { poolWaitMs, health });
  try {
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
  } catch (err) {
    await queue.close().catch(() => undefined);
    throw err;
  }
}

function logFileOpened(b: FileBackstore, where: object, log: Logger): void {
  const r = b.report;
  if (r.created) log.info({ ...where, size: b.size }, 'backing file created (sparse)');
  else if (r.grownFrom !== undefined && r.recordedSize === undefined) {
    // No record: a file Scatter never served (or served before records existed), shorter than configured.
    log.warn({ ...where, from: r.grownFrom, to: b.size }, 'backing file was shorter than the configured size; grown (sparse)');
  } else if (r.grownFrom !== undefined) log.info({ ...where, from: r.grownFrom, to: b.size }, 'backing file grown to the configured size (sparse)');
}

function openFailureCause(err: unknown): FaultCause {
  if (err instanceof BackstoreError) return faultCauseOf(err);
  if (err instanceof BlockError) return err.code === 'NO_SPACE' ? 'enospc' : 'eio';
  return 'invalid';
}

/**
 * The LU of a LUN whose storage could not be opened: listed by REPORT LUNS, answering INQUIRY,
 * and NOT READY (MANUAL INTERVENTION REQUIRED) to everything that needs the medium, until a reload
 * opens it. Logged at error with the reason, and counted (scatter_lun_state, scatter_backstore_errors_total).
 */
export function failedLun(target: TargetConfig, lun: LunConfig, err: unknown, log: Logger): LogicalUnit {
  const cause = openFailureCause(err);
  const message = err instanceof Error ? err.message : String(err);
  const errno = err instanceof BackstoreError ? err.errno : undefined;
  const health = new DeviceHealth();
  health.report({ cause, op: 'open', errno, message });
  health.takeOffline(cause, message);
  log.error(
    { target: target.iqn, lun: lun.lun, path: backingPath(lun), cause, ...(errno ? { errno } : {}), reason: message },
    'LUN not served: its storage could not be opened; it answers NOT READY until a reload (SIGHUP) opens it',
  );
  const spec = lun.backstore;
  return new LogicalUnit({
    lun: lun.lun,
    device: new FailedDevice(spec.type === 'block' ? 512 : spec.blockSize, lun.readOnly, health),
    readOnly: lun.readOnly,
    writeCacheEnabled: spec.type === 'null' ? true : spec.writeCache,
    removable: lun.removable,
    serial: lun.serial,
    naaId: deriveNaaId(target.iqn.toLowerCase(), lun.lun),
    targetName: target.iqn,
  });
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
        // One LUN that cannot be opened does not stop the others: it is served as failed (NOT READY).
        let opened: OpenedLun;
        try {
          opened = await openLun(t, l, pool, config.memory.poolWaitMs, config.stateDir, log);
        } catch (err) {
          units.push(failedLun(t, l, err, log));
          continue;
        }
        units.push(opened.unit);
        queues.set(`${t.iqn}/${l.lun}`, opened.queue);
        log.info({ target: t.iqn, lun: l.lun, backstore: l.backstore.type, size: opened.queue.size }, 'LUN ready');
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
      failed: (t, l, err) => failedLun(t, l, err, log),
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
