/**
 * `lu_state` lines: one per change of an LU's state (docs/operations.md, "Logs"), with its target,
 * LUN and what changed. The changes the block layer makes on its own (a truncated file takes the LU
 * offline, a failed fdatasync fails write-back, a device shrinks) are watched here, since the block
 * layer only counts and reports errors.
 */
import type { Logger } from 'pino';
import type { DeviceFault, DeviceHealth, FaultReport, FaultSink } from '../block/health.js';
import type { SanitizeChange } from '../scsi/sbc/sanitize-state.js';
import { LogEvent, type LuChange } from '../shared/log-events.js';
import type { LunEntry } from './lun-registry.js';

export interface LuStateLine {
  readonly target: string;
  readonly lun: number;
  readonly change: LuChange;
  readonly [field: string]: unknown;
}

export function logLuState(log: Logger, level: 'info' | 'warn' | 'error', line: LuStateLine, msg: string): void {
  log[level]({ event: LogEvent.luState, ...line }, msg);
}

type LuWhere = { readonly target: string; readonly lun: number; readonly path?: string };

/** Target, LUN and (where it has one) the path of a LUN's storage: what every lu_state line names. */
export function luWhere(entry: Pick<LunEntry, 'target' | 'lun' | 'backstore'>): LuWhere {
  const path = entry.backstore.path;
  return { target: entry.target, lun: entry.lun, ...(path === undefined ? {} : { path }) };
}

/** A SANITIZE state change of the LU (it outlives the command that started it). */
export function logSanitizeChange(log: Logger, where: LuWhere, c: SanitizeChange): void {
  switch (c.kind) {
    case 'started':
      logLuState(log, 'info', { ...where, change: 'sanitize_started', operation: c.operation, ause: c.ause }, 'SANITIZE started: the LU refuses other commands until it ends');
      return;
    case 'completed':
      logLuState(log, 'info', { ...where, change: 'sanitize_completed' }, 'SANITIZE completed');
      return;
    case 'failed':
      logLuState(
        log,
        'error',
        { ...where, change: 'sanitize_failed', reason: c.error instanceof Error ? c.error.message : String(c.error) },
        'SANITIZE failed: the LU stays sanitize-failed until a sanitize completes (or EXIT FAILURE MODE, if allowed)',
      );
      return;
    case 'failure_cleared':
      logLuState(log, 'info', { ...where, change: 'sanitize_failure_cleared' }, 'SANITIZE failure cleared (EXIT FAILURE MODE)');
  }
}

/**
 * A fault sink in front of the LU's rate-limited error log: each error still goes there, and the
 * state change an error causes is logged once, after DeviceHealth has acted on it (it reports first,
 * then takes the LU offline), so the change is never lost among suppressed error lines.
 */
export class LuHealthLog implements FaultSink {
  private health: DeviceHealth | undefined;
  private offline: DeviceFault | undefined;
  private writeback: DeviceFault | undefined;

  constructor(
    private readonly errors: FaultSink,
    private readonly log: Logger,
    private readonly where: LuWhere,
  ) {}

  /** Start watching `health` (whose sink this is); `size` reads the LU's capacity now. */
  watch(health: DeviceHealth, size: () => number): void {
    this.health = health;
    this.offline = health.offline;
    this.writeback = health.writebackFailed;
    health.onCapacityChange(() =>
      logLuState(this.log, 'warn', { ...this.where, change: 'resized', newSize: size(), cause: 'shrunk' }, 'LUN shrank underneath: its new size is served'),
    );
  }

  report(r: FaultReport): void {
    this.errors.report(r);
    queueMicrotask(() => this.check());
  }

  private check(): void {
    const health = this.health;
    if (!health) return;
    // Fault objects are new each time one is set, so a second failure after a reload cleared the first is seen.
    // 'reopening' is a reload at work, which logs what comes of it.
    if (health.offline && health.offline !== this.offline && health.offline.cause !== 'reopening') {
      const f = health.offline;
      logLuState(
        this.log,
        'error',
        { ...this.where, change: 'offline', cause: f.cause, reason: f.message },
        'LUN offline: it answers NOT READY until a reload (SIGHUP) opens it again',
      );
    }
    if (health.writebackFailed && health.writebackFailed !== this.writeback) {
      const f = health.writebackFailed;
      logLuState(
        this.log,
        'error',
        { ...this.where, change: 'writeback_failed', cause: f.cause, reason: f.message },
        'LUN write-back failed: SYNCHRONIZE CACHE and FUA writes fail until a reload (SIGHUP) acknowledges it',
      );
    }
    this.offline = health.offline;
    this.writeback = health.writebackFailed;
  }
}
