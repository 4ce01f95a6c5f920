import type { Registry } from 'prom-client';
import { SenseKey } from '../scsi/sense.js';
import { LATENCY_BUCKETS_SECONDS } from '../scsi/stats.js';
import { PrecountedHistogram, liveCounter, type Sample } from './live.js';
import type { MetricsSources, TargetSource } from './sources.js';

/** Label value per sense key: the names of sense.ts; the two it does not name (0Ch obsolete, 0Fh) as hex. */
export const SENSE_KEY_NAMES: readonly string[] = Array.from({ length: 16 }, (_, key) => {
  const named = Object.entries(SenseKey).find(([, value]) => value === key);
  return named ? named[0] : `0x${key.toString(16).padStart(2, '0')}`;
});

const CLASSES = ['read', 'write', 'other'] as const;
const STATES = ['received', 'queued', 'executing'] as const;

/** SCSI core counters, one series set per target. */
export function registerScsiMetrics(registry: Registry, src: MetricsSources): void {
  const perTarget = (value: (t: TargetSource) => Sample[]) =>
    function* (): Iterable<Sample> {
      for (const t of src.targets()) yield* value(t);
    };

  liveCounter(registry, {
    name: 'scatter_scsi_commands_total',
    help: 'SCSI commands completed, by target and command class (read, write, other).',
    labelNames: ['target', 'class'],
    read: perTarget((t) => CLASSES.map((cls) => [{ target: t.iqn, class: cls }, t.stats.commands[cls]])),
  });
  liveCounter(registry, {
    name: 'scatter_scsi_read_bytes_total',
    help: 'Bytes returned by successful read commands.',
    labelNames: ['target'],
    read: perTarget((t) => [[{ target: t.iqn }, t.stats.bytesRead]]),
  });
  liveCounter(registry, {
    name: 'scatter_scsi_written_bytes_total',
    help: 'Bytes accepted by successful write commands.',
    labelNames: ['target'],
    read: perTarget((t) => [[{ target: t.iqn }, t.stats.bytesWritten]]),
  });
  liveCounter(registry, {
    name: 'scatter_scsi_check_conditions_total',
    help: 'Commands answered with CHECK CONDITION, by sense key.',
    labelNames: ['target', 'sense_key'],
    read: perTarget((t) =>
      t.stats.checkConditionsBySenseKey.map((n, key): Sample => [{ target: t.iqn, sense_key: SENSE_KEY_NAMES[key] ?? String(key) }, n]),
    ),
  });
  liveCounter(registry, {
    name: 'scatter_scsi_task_set_full_total',
    help: 'Commands refused with TASK SET FULL (pool exhausted); iSCSI sends BUSY instead when the session has nothing else in flight.',
    labelNames: ['target'],
    read: perTarget((t) => [[{ target: t.iqn }, t.stats.taskSetFull]]),
  });
  liveCounter(registry, {
    name: 'scatter_scsi_task_aborted_total',
    help: 'Commands answered with TASK ABORTED.',
    labelNames: ['target'],
    read: perTarget((t) => [[{ target: t.iqn }, t.stats.taskAborted]]),
  });
  liveCounter(registry, {
    name: 'scatter_scsi_command_state_seconds_total',
    help: 'Time finished commands spent in each state: received (collecting Data-Out), queued (task set), executing.',
    labelNames: ['target', 'state'],
    read: perTarget((t) => STATES.map((state) => [{ target: t.iqn, state }, t.stats.stateSeconds[state]])),
  });
  new PrecountedHistogram(registry, {
    name: 'scatter_scsi_command_duration_seconds',
    help: 'SCSI command latency from arrival to response.',
    labelNames: ['target'],
    buckets: LATENCY_BUCKETS_SECONDS,
    read: function* () {
      for (const t of src.targets()) {
        const l = t.stats.latency;
        yield { labels: { target: t.iqn }, bucketCounts: l.bucketCounts, sum: l.sumSeconds, count: l.count };
      }
    },
  });
}
