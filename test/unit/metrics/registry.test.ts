import { describe, expect, it } from 'vitest';
import { Mempool } from '../../../src/block/mempool.js';
import { createBlockStats } from '../../../src/block/stats.js';
import { createMetricsRegistry } from '../../../src/metrics/registry.js';
import type { LunSource, MetricsSources, SessionSource, TargetSource } from '../../../src/metrics/sources.js';
import { LATENCY_BUCKETS_SECONDS, createStats, recordCommand } from '../../../src/scsi/stats.js';
import { parseExposition, type Exposition } from '../../helpers/metrics.js';

const A = 'iqn.2026-11.io.scatter:a';
const B = 'iqn.2026-11.io.scatter:b';

/** Mutable fake world: the registry must see changes made after it was created. */
function world() {
  const targets: TargetSource[] = [{ iqn: A, stats: createStats() }];
  const luns: LunSource[] = [{ target: A, lun: 0, stats: createBlockStats() }];
  const sessions: SessionSource[] = [];
  const pool = new Mempool({ pages: 8, pageSize: 4096, allocateRun: (n) => new ArrayBuffer(n) });
  let connections = 0;
  const budget = { limit: 1024, inUse: 0, waiting: 0 };
  const readBudget = { limit: 2048, inUse: 0, waiting: 0 };
  const admission = { preLogin: 0, evicted: 0 };
  const sources: MetricsSources = {
    targets: () => targets,
    luns: () => luns,
    pools: () => [{ name: 'bounce', stats: pool.stats }],
    sessions: () => sessions,
    connections: () => connections,
    writeBudget: () => budget,
    readBudget: () => readBudget,
    admission: () => admission,
  };
  const registry = createMetricsRegistry(sources, { processMetrics: false });
  return {
    targets,
    luns,
    sessions,
    pool,
    setConnections: (n: number) => (connections = n),
    budget,
    readBudget,
    admission,
    scrape: async (): Promise<Exposition> => parseExposition(await registry.metrics()),
    registry,
  };
}

const sample = (seconds: number) => ({
  cls: 'read' as const,
  status: 0,
  bytesRead: 512,
  bytesWritten: 0,
  receivedSeconds: 0,
  queuedSeconds: 0,
  executingSeconds: seconds,
});

describe('metrics registry', () => {
  it('renders the pre-counted latency histogram as cumulative Prometheus buckets', async () => {
    const w = world();
    const stats = w.targets[0]!.stats;
    recordCommand(stats, sample(0.00005)); // first bucket (<= 0.0001)
    recordCommand(stats, sample(0.003)); // <= 0.005
    recordCommand(stats, sample(0.003));
    recordCommand(stats, sample(60)); // only +Inf
    const m = await w.scrape();
    const name = 'scatter_scsi_command_duration_seconds';
    expect(m.types.get(name)).toBe('histogram');
    const bucket = (le: string): number => m.value(`${name}_bucket`, { target: A, le });
    expect(bucket('0.0001')).toBe(1);
    expect(bucket('0.0025')).toBe(1);
    expect(bucket('0.005')).toBe(3);
    expect(bucket('10')).toBe(3);
    expect(bucket('+Inf')).toBe(4);
    expect(m.select(`${name}_bucket`, { target: A })).toHaveLength(LATENCY_BUCKETS_SECONDS.length + 1);
    expect(m.value(`${name}_count`, { target: A })).toBe(4);
    expect(m.value(`${name}_sum`, { target: A })).toBeCloseTo(60.00605, 9);
    expect(m.value('scatter_scsi_commands_total', { target: A, class: 'read' })).toBe(4);
    expect(m.value('scatter_scsi_read_bytes_total', { target: A })).toBe(4 * 512);
    expect(m.value('scatter_scsi_command_state_seconds_total', { target: A, state: 'executing' })).toBeCloseTo(60.00605, 9);
  });

  it('reads targets, LUNs and sessions at scrape time, so runtime changes show up and removed ones go away', async () => {
    const w = world();
    let m = await w.scrape();
    expect(m.select('scatter_block_bounced_bytes_total').map((s) => s.labels)).toEqual([{ target: A, lun: '0' }]);
    expect(m.value('scatter_iscsi_sessions', { target: A, type: 'normal' })).toBe(0);

    const lun1 = createBlockStats();
    lun1.bouncedBytes = 4096;
    lun1.directBytes = 512;
    w.luns.push({ target: A, lun: 1, stats: lun1 });
    w.targets.push({ iqn: B, stats: createStats() });
    w.sessions.push({ target: A, discovery: false }, { target: A, discovery: false }, { target: '', discovery: true });
    w.setConnections(3);
    m = await w.scrape();
    expect(m.value('scatter_block_bounced_bytes_total', { target: A, lun: '1' })).toBe(4096);
    expect(m.value('scatter_block_direct_bytes_total', { target: A, lun: '1' })).toBe(512);
    expect(m.value('scatter_iscsi_sessions', { target: A, type: 'normal' })).toBe(2);
    expect(m.value('scatter_iscsi_sessions', { target: B, type: 'normal' })).toBe(0);
    expect(m.value('scatter_iscsi_sessions', { type: 'discovery' })).toBe(1);
    expect(m.value('scatter_iscsi_connections')).toBe(3);
    expect(m.value('scatter_iscsi_buffered_write_bytes')).toBe(0);
    w.budget.inUse = 768;
    w.budget.waiting = 2;
    const again = await w.scrape();
    expect(again.value('scatter_iscsi_buffered_write_bytes')).toBe(768);
    expect(again.value('scatter_iscsi_buffered_write_limit_bytes')).toBe(1024);
    expect(again.value('scatter_iscsi_write_budget_waiting_commands')).toBe(2);
    w.readBudget.inUse = 4096;
    w.readBudget.waiting = 3;
    w.admission.preLogin = 5;
    w.admission.evicted = 7;
    const third = await w.scrape();
    expect(third.value('scatter_iscsi_buffered_read_bytes')).toBe(4096);
    expect(third.value('scatter_iscsi_read_budget_waiting_commands')).toBe(3);
    expect(third.value('scatter_iscsi_prelogin_connections')).toBe(5);
    expect(third.value('scatter_iscsi_prelogin_evictions_total')).toBe(7);
    expect(m.select('scatter_scsi_commands_total', { target: B })).toHaveLength(3);

    w.luns.splice(0, 1);
    w.targets.splice(1, 1);
    m = await w.scrape();
    expect(m.select('scatter_block_bounced_bytes_total').map((s) => s.labels)).toEqual([{ target: A, lun: '1' }]);
    expect(m.select('scatter_scsi_commands_total', { target: B })).toHaveLength(0);
    expect(m.select('scatter_scsi_command_duration_seconds_count').map((s) => s.labels)).toEqual([{ target: A }]);
  });

  it('follows the pool: pages in use, waiting allocations, refusals', async () => {
    const w = world();
    const held = w.pool.tryAlloc(6)!;
    const waiting = w.pool.alloc(4);
    await expect(w.pool.alloc(9)).rejects.toThrow(); // larger than the pool: refused
    let m = await w.scrape();
    const pool = { pool: 'bounce' };
    expect(m.value('scatter_pool_pages', pool)).toBe(8);
    expect(m.value('scatter_pool_pages_in_use', pool)).toBe(6);
    expect(m.value('scatter_pool_waiting_requests', pool)).toBe(1);
    expect(m.value('scatter_pool_exhausted_total', pool)).toBe(1);
    w.pool.free(held);
    w.pool.free(await waiting);
    m = await w.scrape();
    expect(m.value('scatter_pool_pages_in_use', pool)).toBe(0);
    expect(m.value('scatter_pool_waiting_requests', pool)).toBe(0);
    expect(m.value('scatter_pool_pages_high_water', pool)).toBe(6);
    expect(m.value('scatter_pool_waits_total', pool)).toBe(1);
  });

  it('names every family scatter_* with a unit or _total, and JSON export sees the same histogram', async () => {
    const w = world();
    recordCommand(w.targets[0]!.stats, sample(0.001));
    const m = await w.scrape();
    for (const [name, type] of m.types) {
      expect(name).toMatch(/^scatter_/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
    }
    const json = await w.registry.getMetricsAsJSON();
    const h = json.find((f) => f.name === 'scatter_scsi_command_duration_seconds');
    const count = h?.values.find((v) => (v as { metricName?: string }).metricName === 'scatter_scsi_command_duration_seconds_count');
    expect(count?.value).toBe(1);
  });
});
