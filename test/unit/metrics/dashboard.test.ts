import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Mempool } from '../../../src/block/mempool.js';
import { createBlockStats } from '../../../src/block/stats.js';
import { createMetricsRegistry } from '../../../src/metrics/registry.js';
import { createStats } from '../../../src/scsi/stats.js';
import { parseExposition } from '../../helpers/metrics.js';

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}

describe('Grafana dashboard (docker/grafana/scatter-dashboard.json)', () => {
  it('queries only metric names the registry exports', async () => {
    const pool = new Mempool({ pages: 2, pageSize: 4096, allocateRun: (n) => new ArrayBuffer(n) });
    const registry = createMetricsRegistry({
      targets: () => [{ iqn: 'iqn.2026-11.io.scatter:a', stats: createStats() }],
      luns: () => [{ target: 'iqn.2026-11.io.scatter:a', lun: 0, stats: createBlockStats() }],
      pools: () => [{ name: 'bounce', stats: pool.stats }],
      sessions: () => [],
      connections: () => 0,
      writeBudget: () => ({ limit: 1, inUse: 0, waiting: 0 }),
      readBudget: () => ({ limit: 1, inUse: 0, waiting: 0 }),
      admission: () => ({ preLogin: 0, evicted: 0 }),
    });
    const exported = new Set(parseExposition(await registry.metrics()).series.map((s) => s.name));
    const dashboard = JSON.parse(readFileSync(new URL('../../../docker/grafana/scatter-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
    const used = new Set<string>();
    for (const p of dashboard.panels) {
      for (const t of p.targets) for (const m of t.expr.matchAll(/\b(?:scatter|process|nodejs)_[a-z0-9_]+/g)) used.add(m[0]);
    }
    expect(used.size).toBeGreaterThan(15);
    for (const name of used) expect(exported, name).toContain(name);
  });
});
