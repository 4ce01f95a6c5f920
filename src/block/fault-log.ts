import type { FaultCause, FaultReport, FaultSink } from './health.js';

export interface FaultLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface FaultLogOptions {
  readonly log: FaultLogger;
  /** Fields every line carries: target, lun, path. */
  readonly where: Readonly<Record<string, unknown>>;
  /** For the LBA range of a request. */
  readonly blockSize: number;
  /** One line per cause at most this often; the lines in between are counted. Default 10 s. */
  readonly intervalMs?: number;
  /** Milliseconds, monotonic (injected by tests). */
  readonly now?: () => number;
}

export const DEFAULT_FAULT_LOG_INTERVAL_MS = 10_000;

/** ENOSPC is a capacity problem the operator can solve; everything else puts data at risk. */
const WARN_ONLY: ReadonlySet<FaultCause> = new Set(['enospc']);

/**
 * The log of one LU's backstore errors: the first error of a cause (and operation) is logged at
 * once, later ones of the same kind at most once per interval, each line saying how many were suppressed since
 * the last (a failing disk under load must not flood the log, nor go unnoticed).
 */
export class RateLimitedFaultLog implements FaultSink {
  /** By cause and operation (a bounded set): a write error does not hide the first read error. */
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: FaultLogOptions) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_FAULT_LOG_INTERVAL_MS;
    this.now = opts.now ?? (() => performance.now());
  }

  report(r: FaultReport): void {
    const at = this.now();
    const key = `${r.cause} ${r.op}`;
    const seen = this.last.get(key);
    if (seen && at - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.last.set(key, { at, suppressed: 0 });
    const fields: Record<string, unknown> = { ...this.opts.where, op: r.op, cause: r.cause };
    if (r.errno !== undefined) fields.errno = r.errno;
    if (r.offset !== undefined && r.length !== undefined) {
      const bs = this.opts.blockSize;
      fields.lba = Math.floor(r.offset / bs);
      fields.blocks = Math.ceil((r.offset + r.length) / bs) - Math.floor(r.offset / bs);
    }
    if (seen && seen.suppressed > 0) fields.suppressed = seen.suppressed;
    fields.reason = r.message;
    if (WARN_ONLY.has(r.cause)) this.opts.log.warn(fields, 'backstore error');
    else this.opts.log.error(fields, 'backstore error');
  }
}
