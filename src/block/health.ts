import type { BackstoreError } from './backstore-error.js';
import { BlockError } from './device.js';

/**
 * Why a backstore operation failed, as a bounded set (the `cause` label of
 * scatter_backstore_errors_total): errno classes (eio, enospc, erofs, not_found, permission,
 * busy, invalid), faults of the medium the errno does not tell (short_io, truncated, unlinked,
 * shrunk), a failed fdatasync (flush), and state files that could not be written (persist).
 */
export const FAULT_CAUSES = [
  'eio',
  'enospc',
  'erofs',
  'short_io',
  'truncated',
  'unlinked',
  'flush',
  'shrunk',
  'persist',
  'not_found',
  'permission',
  'busy',
  'invalid',
] as const;

export type FaultCause = (typeof FAULT_CAUSES)[number];

export function faultCauseOf(err: BackstoreError): FaultCause {
  if (err.fault) return err.fault;
  switch (err.code) {
    case 'ENOSPC':
      return 'enospc';
    case 'EROFS':
      return 'erofs';
    case 'ENOENT':
      return 'not_found';
    case 'EACCES':
      return 'permission';
    case 'EBUSY':
      return 'busy';
    case 'ERANGE':
      return 'shrunk';
    case 'EINVAL':
      return 'invalid';
    default:
      return 'eio';
  }
}

/** One backstore error, as logged (fault-log.ts) and counted. */
export interface FaultReport {
  readonly cause: FaultCause;
  /** read, write, flush, discard, open, persist ... */
  readonly op: string;
  /** Byte range of the request, when it had one. */
  readonly offset?: number;
  readonly length?: number;
  readonly errno?: string | undefined;
  readonly message: string;
}

export interface FaultSink {
  report(r: FaultReport): void;
}

/** Why an LU is offline: a fault, or being opened again by a reload (for a moment). */
export type OfflineCause = FaultCause | 'reopening';

/** A condition the LU stays in until an operator acts (reload, restart). */
export interface DeviceFault {
  readonly cause: OfflineCause;
  readonly message: string;
  readonly since: Date;
}

export type DeviceState = 'serving' | 'offline' | 'writeback_failed';

/**
 * What went wrong with one LU's storage, shared by its block queue (which detects it), the SCSI
 * core (which answers from it) and the metrics:
 *
 * - `offline`: the medium is gone or damaged (backing file truncated or deleted, or the LU could
 *   not be opened at all). The LU answers NOT READY, MANUAL INTERVENTION REQUIRED until a reload
 *   or a restart opens it again.
 * - `writebackFailed`: an fdatasync failed. Linux may have marked the dirty pages clean anyway,
 *   so the next fdatasync can succeed without the data ever reaching the disk (the PostgreSQL
 *   "fsyncgate"); from then on SYNCHRONIZE CACHE and FUA writes fail until an operator acts.
 *
 * Every error is counted by cause and passed to the sink (a rate-limited log).
 */
export class DeviceHealth {
  readonly errors: Record<FaultCause, number> = Object.fromEntries(FAULT_CAUSES.map((c) => [c, 0])) as Record<FaultCause, number>;
  private offlineFault: DeviceFault | undefined;
  private writebackFault: DeviceFault | undefined;
  private readonly capacityListeners = new Set<() => void>();

  constructor(private readonly sink?: FaultSink) {}

  get offline(): DeviceFault | undefined {
    return this.offlineFault;
  }

  get writebackFailed(): DeviceFault | undefined {
    return this.writebackFault;
  }

  get state(): DeviceState {
    return this.offlineFault ? 'offline' : this.writebackFault ? 'writeback_failed' : 'serving';
  }

  /** Count (and log) one error. */
  report(r: FaultReport): void {
    this.errors[r.cause]++;
    this.sink?.report(r);
  }

  /** The first fault wins: it is the one the operator has to fix. */
  takeOffline(cause: OfflineCause, message: string): void {
    this.offlineFault ??= { cause, message, since: new Date() };
  }

  failWriteback(cause: FaultCause, message: string): void {
    this.writebackFault ??= { cause, message, since: new Date() };
  }

  /** An operator acknowledged a failed write-back (reload): flushes are trusted again. True when one was set. */
  clearWritebackFailure(): boolean {
    const was = this.writebackFault !== undefined;
    this.writebackFault = undefined;
    return was;
  }

  /**
   * Count and log a backstore error, and keep the faults that outlast the request: a truncated or
   * deleted file takes the device offline, a failed fdatasync fails write-back, a shrunk device
   * tells the capacity listeners.
   */
  backstoreFailed(err: BackstoreError, op: string, range?: { readonly offset: number; readonly length: number }): void {
    const cause = faultCauseOf(err);
    this.report({ cause, op, ...range, errno: err.errno, message: err.message });
    if (cause === 'truncated' || cause === 'unlinked') this.takeOffline(cause, err.message);
    else if (cause === 'flush') this.failWriteback(cause, err.message);
    else if (cause === 'shrunk') this.capacityChanged();
  }

  /** Throws OFFLINE while the device is offline. */
  refuseIfOffline(): void {
    const f = this.offlineFault;
    if (f) throw new BlockError('OFFLINE', `offline since ${f.since.toISOString()}: ${f.message}`);
  }

  /**
   * Throws IO_ERROR for a durable request after a failed write-back: the kernel may have dropped
   * the dirty pages, and a later fdatasync that succeeds proves nothing about them, so no
   * durability is promised until an operator acts.
   */
  refuseIfWritebackFailed(): void {
    const f = this.writebackFault;
    if (f) throw new BlockError('IO_ERROR', `write-back failed at ${f.since.toISOString()} (${f.message}); durable writes refused until a reload or restart`);
  }

  /** `listener` runs when the device's capacity changed underneath (a shrunk block device). Returns the unsubscribe. */
  onCapacityChange(listener: () => void): () => void {
    this.capacityListeners.add(listener);
    return () => this.capacityListeners.delete(listener);
  }

  capacityChanged(): void {
    for (const l of this.capacityListeners) l();
  }
}
