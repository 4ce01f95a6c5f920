/**
 * A LUN of the config made real: its backstore opened (backstore/factory.ts), the block queue over
 * it, and the LU with the state it keeps across restarts; or, when the storage cannot be opened,
 * an LU that answers NOT READY until a reload opens it.
 */
import type { Logger } from 'pino';
import { configuredBackstore, type ConfiguredBackstore } from '../backstore/factory.js';
import type { FileOpenReport } from '../backstore/file-open.js';
import { BackstoreError } from '../block/backstore-error.js';
import { BlockError } from '../block/device.js';
import { FailedDevice } from '../block/failed-device.js';
import { RateLimitedFaultLog } from '../block/fault-log.js';
import { DeviceHealth, faultCauseOf, type FaultCause } from '../block/health.js';
import type { Mempool } from '../block/mempool.js';
import { BlockQueue } from '../block/queue.js';
import type { LunConfig, TargetConfig } from '../config/schema.js';
import { LogicalUnit, type LogicalUnitConfig } from '../scsi/logical-unit.js';
import { lunStateInStateDir, type LunStateKind } from '../scsi/lun-state-path.js';
import { deriveNaaId } from '../scsi/naa.js';
import { FileReservationStore } from '../scsi/pr/file-store.js';
import type { AnyReservationStore } from '../scsi/pr/types.js';
import { openAtomicJournal } from '../scsi/sbc/atomic-setup.js';
import { SanitizeMarker } from '../scsi/sbc/sanitize-marker.js';
import { LogEvent } from '../shared/log-events.js';
import type { AluaProvider } from '../scsi/alua.js';
import type { LuSharing } from '../scsi/lu-sharing.js';
import type { LunEntry } from './lun-registry.js';
import { LuHealthLog, logLuState, logSanitizeChange } from './lu-state-log.js';

/** What opening a LUN needs of the running server. */
export interface LunOpenContext {
  readonly pool: Mempool;
  /** config.memory.poolWaitMs */
  readonly poolWaitMs: number;
  /** config.stateDir */
  readonly stateDir: string;
  readonly log: Logger;
  /** Cluster mode: this node's target port group (its TPGT) and the ALUA provider of each target. */
  readonly cluster?: { readonly portGroup: number; aluaFor(iqn: string): AluaProvider; sharingFor(iqn: string, lun: number): LuSharing };
  /**
   * Cluster mode: the LU's reservation store, shared by every node (src/cluster/etcd-reservations.ts,
   * fetched before the LU is built). When set it replaces the APTPL file store; the caller closes it
   * when the LU goes.
   */
  readonly reservationStoreFor?: (target: TargetConfig, lun: LunConfig) => AnyReservationStore | Promise<AnyReservationStore>;
}

function configured(lun: LunConfig, ctx: LunOpenContext): ConfiguredBackstore {
  return configuredBackstore(lun.backstore, { readOnly: lun.readOnly, stateDir: ctx.stateDir });
}

/** What every LU of a LUN has, opened or not. */
function identity(target: TargetConfig, lun: LunConfig, store: ConfiguredBackstore): Omit<LogicalUnitConfig, 'device'> {
  return {
    lun: lun.lun,
    readOnly: lun.readOnly,
    writeCacheEnabled: store.writeCache,
    removable: lun.removable,
    serial: lun.serial,
    naaId: deriveNaaId(target.iqn.toLowerCase(), lun.lun),
    targetName: target.iqn,
  };
}

function entry(target: TargetConfig, lun: LunConfig, store: ConfiguredBackstore, unit: LogicalUnit, queue?: BlockQueue): LunEntry {
  return { target: target.iqn, lun: lun.lun, unit, queue, backstore: { type: store.type, path: store.path } };
}

/** Opens the LUN's backstore and builds its queue and LU. Rejects when the storage cannot be opened. */
export async function openLun(target: TargetConfig, lun: LunConfig, ctx: LunOpenContext): Promise<LunEntry> {
  const store = configured(lun, ctx);
  const { backstore, fileReport } = await store.open();
  const where = { target: target.iqn, lun: lun.lun, ...(store.path === undefined ? {} : { path: store.path }) };
  if (fileReport) logFileOpened(fileReport, backstore.size, where, ctx.log);
  // Backstore errors: counted by cause, logged rate-limited with the LU, path and LBA range; the
  // state changes they cause (offline, failed write-back, shrunk) logged once each.
  const errors = new RateLimitedFaultLog({ log: ctx.log.child({ event: LogEvent.backstoreError }), where, blockSize: backstore.blockSize });
  const healthLog = new LuHealthLog(errors, ctx.log, where);
  const health = new DeviceHealth(healthLog);
  const queue = new BlockQueue(backstore, ctx.pool, { poolWaitMs: ctx.poolWaitMs, health });
  healthLog.watch(health, () => queue.size);
  try {
    const statePath = (kind: LunStateKind): string | undefined =>
      store.lunStateDir === undefined ? undefined : lunStateInStateDir(kind, store.lunStateDir, target.iqn, lun.lun);
    // WRITE ATOMIC(16): a crash's leftover record lands (or a torn one is dropped) before the LU is served.
    const atomicJournal = await openAtomicJournal({
      path: statePath('atomic'),
      readOnly: lun.readOnly,
      device: queue,
      log: ctx.log,
      where: { target: target.iqn, lun: lun.lun },
    });
    const reservationStore = ctx.reservationStoreFor
      ? await ctx.reservationStoreFor(target, lun)
      : ((path) => (path === undefined ? undefined : new FileReservationStore(path)))(statePath('pr'));
    // A sanitize cut short by a restart leaves the LU "sanitize failed".
    const sanitize = statePath('sanitize');
    const unit = new LogicalUnit({
      ...identity(target, lun, store),
      device: queue,
      thin: backstore.thin,
      reservationStore,
      sharing: ctx.cluster?.sharingFor(target.iqn, lun.lun),
      atomicJournal,
      sanitizeRate: lun.sanitizeRate,
      keepsData: backstore.keepsData,
      sanitizeMarker: sanitize === undefined ? undefined : new SanitizeMarker(sanitize),
      onSanitizeChange: (change) => logSanitizeChange(ctx.log, where, change),
    });
    return entry(target, lun, store, unit, queue);
  } catch (err) {
    await queue.close().catch(() => undefined);
    throw err;
  }
}

function logFileOpened(r: FileOpenReport, size: number, where: object, log: Logger): void {
  if (r.created) log.info({ ...where, size }, 'backing file created (sparse)');
  else if (r.grownFrom !== undefined && r.recordedSize === undefined) {
    // No record: a file Scatter never served (or served before records existed), shorter than configured.
    log.warn({ ...where, from: r.grownFrom, to: size }, 'backing file was shorter than the configured size; grown (sparse)');
  } else if (r.grownFrom !== undefined) log.info({ ...where, from: r.grownFrom, to: size }, 'backing file grown to the configured size (sparse)');
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
export function failedLun(target: TargetConfig, lun: LunConfig, err: unknown, ctx: LunOpenContext): LunEntry {
  const store = configured(lun, ctx);
  const cause = openFailureCause(err);
  const message = err instanceof Error ? err.message : String(err);
  const errno = err instanceof BackstoreError ? err.errno : undefined;
  const health = new DeviceHealth();
  health.report({ cause, op: 'open', errno, message });
  health.takeOffline(cause, message);
  logLuState(
    ctx.log,
    'error',
    { target: target.iqn, lun: lun.lun, change: 'offline', path: store.path, cause, ...(errno ? { errno } : {}), reason: message },
    'LUN not served: its storage could not be opened; it answers NOT READY until a reload (SIGHUP) opens it',
  );
  const unit = new LogicalUnit({ ...identity(target, lun, store), device: new FailedDevice(store.blockSize, lun.readOnly, health) });
  return entry(target, lun, store, unit);
}
