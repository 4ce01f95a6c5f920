import type { Registry } from 'prom-client';
import { BIOS_PER_REQUEST_BUCKETS } from '../block/stats.js';
import type { BlockErrorCode } from '../block/device.js';
import { PrecountedHistogram, liveCounter, liveGauge, type Sample } from './live.js';
import type { LunHealthSource, LunSource, MetricsSources, PoolSource } from './sources.js';
import { FAULT_CAUSES } from '../block/health.js';

const DEVICE_STATES = ['serving', 'offline', 'writeback_failed'] as const;

const LUN_LABELS = ['target', 'lun'] as const;

function lunLabels(l: LunSource): { target: string; lun: string } {
  return { target: l.target, lun: String(l.lun) };
}

/** Block-layer counters per LUN: requests, bytes, and how much went direct vs through bounce pages. */
export function registerBlockMetrics(registry: Registry, src: MetricsSources): void {
  const perLun = (value: (l: LunSource) => Sample[]) =>
    function* (): Iterable<Sample> {
      for (const l of src.luns()) yield* value(l);
    };
  const simple = (name: string, help: string, pick: (l: LunSource) => number): void => {
    liveCounter(registry, { name, help, labelNames: LUN_LABELS, read: perLun((l) => [[lunLabels(l), pick(l)]]) });
  };

  liveCounter(registry, {
    name: 'scatter_block_requests_total',
    help: 'Block requests per LUN by operation (read, write, flush).',
    labelNames: [...LUN_LABELS, 'op'],
    read: perLun((l) => {
      const s = l.stats;
      return [
        [{ ...lunLabels(l), op: 'read' }, s.readRequests],
        [{ ...lunLabels(l), op: 'write' }, s.writeRequests],
        [{ ...lunLabels(l), op: 'flush' }, s.flushes],
      ];
    }),
  });
  simple('scatter_block_read_bytes_total', 'Bytes read from the backstore per LUN.', (l) => l.stats.readBytes);
  simple('scatter_block_written_bytes_total', 'Bytes written to the backstore per LUN.', (l) => l.stats.writtenBytes);
  simple(
    'scatter_block_direct_bytes_total',
    'Bytes moved between the backstore and the caller memory (or handed-out pool pages) without a copy.',
    (l) => l.stats.directBytes,
  );
  simple('scatter_block_bounced_bytes_total', 'Bytes copied through bounce pool pages (O_DIRECT alignment).', (l) => l.stats.bouncedBytes);
  simple('scatter_block_bios_total', 'Bios (vectored syscalls) completed per LUN.', (l) => l.stats.bios);
  simple('scatter_block_pool_waits_total', 'Bounce page allocations of this LUN that had to wait.', (l) => l.stats.poolWaits);
  liveCounter(registry, {
    name: 'scatter_block_failures_total',
    help: 'Block requests that failed, by error code.',
    labelNames: [...LUN_LABELS, 'code'],
    read: perLun((l) =>
      (Object.entries(l.stats.failures) as [BlockErrorCode, number][]).map(([code, n]): Sample => [{ ...lunLabels(l), code }, n]),
    ),
  });
  liveGauge(registry, {
    name: 'scatter_block_inflight_bios',
    help: 'Bios submitted to the backstore and not yet complete.',
    labelNames: LUN_LABELS,
    read: perLun((l) => [[lunLabels(l), l.stats.inflightBios]]),
  });
  liveGauge(registry, {
    name: 'scatter_block_inflight_bios_high_water',
    help: 'Most bios in flight at once on this LUN.',
    labelNames: LUN_LABELS,
    read: perLun((l) => [[lunLabels(l), l.stats.inflightHighWater]]),
  });
  new PrecountedHistogram(registry, {
    name: 'scatter_block_bios_per_request',
    help: 'Bios each block request was split into.',
    labelNames: LUN_LABELS,
    buckets: BIOS_PER_REQUEST_BUCKETS,
    read: function* () {
      for (const l of src.luns()) {
        const h = l.stats.biosPerRequest;
        yield { labels: lunLabels(l), bucketCounts: h.counts, sum: h.sum, count: h.count };
      }
    },
  });
}

/**
 * Backstore errors by cause and each LU's storage state, failed LUs included: an LU that could
 * not be opened, or went offline, shows up here rather than only in the log.
 */
export function registerBackstoreHealthMetrics(registry: Registry, src: MetricsSources): void {
  const perLu = (value: (l: LunHealthSource) => Sample[]) =>
    function* (): Iterable<Sample> {
      for (const l of src.lunHealth?.() ?? []) yield* value(l);
    };
  const labels = (l: LunHealthSource) => ({ target: l.target, lun: String(l.lun) });
  liveCounter(registry, {
    name: 'scatter_backstore_errors_total',
    help: 'Backstore errors by cause (eio, enospc, truncated, unlinked, flush, persist, not_found ...), each also logged (rate-limited).',
    labelNames: [...LUN_LABELS, 'cause'],
    read: perLu((l) => FAULT_CAUSES.map((cause): Sample => [{ ...labels(l), cause }, l.errors[cause]])),
  });
  liveGauge(registry, {
    name: 'scatter_lun_up',
    help: 'LU storage serving I/O (1), or offline: not opened, backing file truncated or deleted (0; the LU answers NOT READY).',
    labelNames: LUN_LABELS,
    read: perLu((l) => [[labels(l), l.state === 'offline' ? 0 : 1]]),
  });
  liveGauge(registry, {
    name: 'scatter_lun_state',
    help: 'LU storage state: 1 for the current one of serving, offline, writeback_failed (SYNCHRONIZE CACHE and FUA refused).',
    labelNames: [...LUN_LABELS, 'state'],
    read: perLu((l) => DEVICE_STATES.map((state): Sample => [{ ...labels(l), state }, l.state === state ? 1 : 0])),
  });
}

/** Page pool state: size, use, queue of waiting allocations, refusals. */
export function registerPoolMetrics(registry: Registry, src: MetricsSources): void {
  const perPool = (pick: (p: PoolSource) => number) =>
    function* (): Iterable<Sample> {
      for (const p of src.pools()) yield [{ pool: p.name }, pick(p)];
    };
  const gauge = (name: string, help: string, pick: (p: PoolSource) => number): void => {
    liveGauge(registry, { name, help, labelNames: ['pool'], read: perPool(pick) });
  };
  const counter = (name: string, help: string, pick: (p: PoolSource) => number): void => {
    liveCounter(registry, { name, help, labelNames: ['pool'], read: perPool(pick) });
  };
  gauge('scatter_pool_pages', 'Pages in the pool.', (p) => p.stats.capacity);
  gauge('scatter_pool_page_size_bytes', 'Bytes per pool page.', (p) => p.stats.pageSize);
  gauge('scatter_pool_pages_in_use', 'Pages handed out right now.', (p) => p.stats.inUse);
  gauge('scatter_pool_pages_high_water', 'Most pages ever in use at once.', (p) => p.stats.highWater);
  gauge('scatter_pool_waiting_requests', 'Allocations queued for pages right now.', (p) => p.stats.waiting);
  counter('scatter_pool_allocations_total', 'Successful allocations.', (p) => p.stats.allocations);
  counter('scatter_pool_waits_total', 'Allocations that had to queue.', (p) => p.stats.waits);
  counter(
    'scatter_pool_exhausted_total',
    'Allocations refused: wait timed out (the command gets TASK SET FULL), too large, or aborted.',
    (p) => p.stats.failures,
  );
}
