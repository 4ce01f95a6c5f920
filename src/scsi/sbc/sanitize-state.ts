import { ScsiError } from '../errors.js';
import type { SanitizeMarker } from './sanitize-marker.js';

/** One sanitize operation of a whole LU, run in the background of the LU (not of a task). */
export interface SanitizeOperation {
  /** For the log: OVERWRITE, BLOCK ERASE. */
  readonly name?: string;
  /** Bytes the operation processes in all (every pass), for the progress indication; 0 = unknown. */
  readonly total: number;
  /** Does the work; `report(done)` tells how many of `total` bytes are done. Rejects when it fails. */
  run(report: (done: number) => void): Promise<void>;
}

export type SanitizeResult = 'completed' | 'failed';

/** A change of the sanitize state, told to whoever logs the LU's state. */
export type SanitizeChange =
  | { readonly kind: 'started'; readonly operation: string | undefined; readonly ause: boolean }
  | { readonly kind: 'completed' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'failure_cleared' };

type Phase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'running'; readonly total: number; done: number; readonly finished: Promise<SanitizeResult> }
  | { readonly kind: 'failed'; readonly restricted: boolean; readonly error: unknown };

const IDLE: Phase = Object.freeze({ kind: 'idle' });

/**
 * The sanitize state of one LU (SBC-4 4.11): idle, a sanitize operation in progress, or the
 * "sanitize failed" condition that outlasts it. It belongs to the LU, not to the SANITIZE task:
 * aborting that task, resetting the LU or the target, or losing the nexus leaves it alone.
 * `restricted`: the failed operation was started with AUSE = 0 (restricted completion mode),
 * so only another sanitize that completes without error clears it, not EXIT FAILURE MODE.
 */
export class SanitizeState {
  /** OVERWRITE pace in bytes per second (0 = unlimited), so one LU's sanitize does not starve others on the disk. */
  readonly rate: number;
  /** SANITIZE OVERWRITE is offered: the LU is writable by configuration and its medium keeps what is written. */
  readonly overwriteOffered: boolean;
  private phase: Phase = IDLE;
  /** Survives a restart: an operation it says was interrupted leaves the LU failed (sanitize-marker.ts). */
  private readonly marker: SanitizeMarker | undefined;

  /** Told when the marker cannot be written or removed (the LU logs and counts it). */
  private readonly onMarkerError: ((op: 'set' | 'clear', err: unknown) => void) | undefined;
  private readonly onChange: ((change: SanitizeChange) => void) | undefined;

  constructor(
    opts: {
      rate?: number;
      overwrite?: boolean;
      marker?: SanitizeMarker;
      onMarkerError?: (op: 'set' | 'clear', err: unknown) => void;
      onChange?: (change: SanitizeChange) => void;
    } = {},
  ) {
    const rate = opts.rate ?? 0;
    if (!Number.isFinite(rate) || rate < 0) throw new RangeError(`sanitize rate ${rate} is not a byte count per second`);
    this.rate = rate;
    this.overwriteOffered = opts.overwrite === true;
    this.marker = opts.marker;
    this.onMarkerError = opts.onMarkerError;
    this.onChange = opts.onChange;
    const interrupted = this.marker?.read();
    if (interrupted) {
      const error = new ScsiError('SANITIZE_FAILED', 'a sanitize operation was interrupted by a restart of the target');
      this.phase = Object.freeze({ kind: 'failed', restricted: !interrupted.ause, error });
      this.onChange?.({ kind: 'failed', error });
    }
  }

  get idle(): boolean {
    return this.phase.kind === 'idle';
  }

  get inProgress(): boolean {
    return this.phase.kind === 'running';
  }

  get failed(): boolean {
    return this.phase.kind === 'failed';
  }

  /** Failed in restricted completion mode (AUSE was 0). */
  get failedRestricted(): boolean {
    return this.phase.kind === 'failed' && this.phase.restricted;
  }

  /** Why the last operation failed (for logs), while the LU is in the failed condition. */
  get failure(): unknown {
    return this.phase.kind === 'failed' ? this.phase.error : undefined;
  }

  /** PROGRESS INDICATION: done / total as a fraction of 65536, 0..65535. */
  get progress(): number {
    const p = this.phase;
    if (p.kind !== 'running' || p.total <= 0) return 0;
    return Math.min(0xffff, Math.floor((p.done / p.total) * 0x10000));
  }

  /** Resolves when the operation in progress (if any) ends. */
  get finished(): Promise<SanitizeResult> | undefined {
    return this.phase.kind === 'running' ? this.phase.finished : undefined;
  }

  /**
   * Starts `op` at once (the LU is "in progress" before this returns, so the next command of any
   * nexus is refused). The promise never rejects: 'failed' leaves the LU in the failed condition.
   * Throws, having started nothing, when the marker cannot be made durable first.
   */
  start(op: SanitizeOperation, ause: boolean): Promise<SanitizeResult> {
    if (this.phase.kind === 'running') throw new ScsiError('SANITIZE_BUSY', 'a sanitize operation is already in progress');
    try {
      this.marker?.set(ause);
    } catch (err) {
      this.onMarkerError?.('set', err);
      throw err;
    }
    let settle!: (r: SanitizeResult) => void;
    const finished = new Promise<SanitizeResult>((resolve) => (settle = resolve));
    const running = { kind: 'running' as const, total: op.total, done: 0, finished };
    this.phase = running;
    this.onChange?.({ kind: 'started', operation: op.name, ause });
    const report = (done: number): void => {
      running.done = Math.max(0, Math.min(done, running.total));
    };
    // A throw before the first await must fail the operation too, not escape to the caller.
    void Promise.resolve()
      .then(() => op.run(report))
      .then(
        () => {
          if (this.clearMarker()) {
            this.phase = IDLE;
            this.onChange?.({ kind: 'completed' });
            settle('completed');
          } else {
            // What a restart would find: the marker says the LU is sanitize-failed, so it is now.
            this.fail(!ause, new ScsiError('SANITIZE_FAILED', 'the completed sanitize could not be recorded'));
            settle('failed');
          }
        },
        (error: unknown) => {
          this.fail(!ause, error);
          settle('failed');
        },
      );
    return finished;
  }

  /**
   * EXIT FAILURE MODE (SBC-4 5.30.2.5): leaves an unrestricted failed condition as if the
   * operation had completed; without a failed operation it changes nothing. False = refused
   * (restricted completion mode, or an operation still running). Throws, still failed, when the
   * marker cannot be removed: a restart would find the LU failed again.
   */
  exitFailureMode(): boolean {
    if (this.phase.kind === 'running') return false;
    if (this.phase.kind === 'failed' && this.phase.restricted) return false;
    const failed = this.phase.kind === 'failed';
    if (failed && !this.clearMarker()) throw new ScsiError('SANITIZE_MARKER', 'the sanitize marker cannot be removed');
    this.phase = IDLE;
    if (failed) this.onChange?.({ kind: 'failure_cleared' });
    return true;
  }

  private fail(restricted: boolean, error: unknown): void {
    this.phase = Object.freeze({ kind: 'failed', restricted, error });
    this.onChange?.({ kind: 'failed', error });
  }

  /** Removes the marker; false (reported) when it stays, and with it the failed condition at the next start. */
  private clearMarker(): boolean {
    try {
      this.marker?.clear();
      return true;
    } catch (err) {
      this.onMarkerError?.('clear', err);
      return false;
    }
  }
}
