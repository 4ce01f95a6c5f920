/**
 * Plain counters of the SCSI core (no prom-client here: the metrics module reads this object).
 * Latency is accounted per command state, as SCST does:
 *   received  - prepare() until execute() (the transport collects Data-Out),
 *   queued    - execute() until the task set lets the task start,
 *   executing - the handler and its block I/O.
 */

export type CommandClass = 'read' | 'write' | 'other';

/** Upper bounds (seconds) of the end-to-end latency histogram; one more bucket counts the rest (+Inf). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

export interface ScsiStats {
  readonly commands: Record<CommandClass, number>;
  bytesRead: number;
  bytesWritten: number;
  /** CHECK CONDITION responses by sense key (index 0..15). */
  readonly checkConditionsBySenseKey: number[];
  taskSetFull: number;
  taskAborted: number;
  /** Seconds spent in each state, summed over all finished commands. */
  readonly stateSeconds: { received: number; queued: number; executing: number };
  /** End-to-end latency (prepare to response); `bucketCounts[i]` is per bucket, not cumulative. */
  readonly latency: { count: number; sumSeconds: number; readonly bucketCounts: number[] };
}

export function createStats(): ScsiStats {
  return {
    commands: { read: 0, write: 0, other: 0 },
    bytesRead: 0,
    bytesWritten: 0,
    checkConditionsBySenseKey: new Array<number>(16).fill(0),
    taskSetFull: 0,
    taskAborted: 0,
    stateSeconds: { received: 0, queued: 0, executing: 0 },
    latency: { count: 0, sumSeconds: 0, bucketCounts: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0) },
  };
}

export interface CommandSample {
  readonly cls: CommandClass;
  readonly status: number;
  readonly senseKey?: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly receivedSeconds: number;
  readonly queuedSeconds: number;
  readonly executingSeconds: number;
}

const STATUS_TASK_SET_FULL = 0x28;
const STATUS_TASK_ABORTED = 0x40;

export function recordCommand(stats: ScsiStats, s: CommandSample): void {
  stats.commands[s.cls]++;
  stats.bytesRead += s.bytesRead;
  stats.bytesWritten += s.bytesWritten;
  if (s.senseKey !== undefined) stats.checkConditionsBySenseKey[s.senseKey & 0x0f]++;
  if (s.status === STATUS_TASK_SET_FULL) stats.taskSetFull++;
  if (s.status === STATUS_TASK_ABORTED) stats.taskAborted++;
  stats.stateSeconds.received += s.receivedSeconds;
  stats.stateSeconds.queued += s.queuedSeconds;
  stats.stateSeconds.executing += s.executingSeconds;
  const total = s.receivedSeconds + s.queuedSeconds + s.executingSeconds;
  stats.latency.count++;
  stats.latency.sumSeconds += total;
  let i = 0;
  while (i < LATENCY_BUCKETS_SECONDS.length && total > LATENCY_BUCKETS_SECONDS[i]) i++;
  stats.latency.bucketCounts[i]++;
}
