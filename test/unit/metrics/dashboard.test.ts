import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceHealth } from '../../../src/block/health.js';
import { Mempool } from '../../../src/block/mempool.js';
import { LoginFailureCounts } from '../../../src/iscsi/login-failure.js';
import { createBlockStats } from '../../../src/block/stats.js';
import { createMetricsRegistry } from '../../../src/metrics/registry.js';
import { createStats } from '../../../src/scsi/stats.js';
import { parseExposition } from '../../helpers/metrics.js';

interface Dashboard {
  id?: number | null;
  templating: { list: { name: string; type: string; query?: string }[] };
  panels: {
    id: number;
    title: string;
    datasource: { type: string; uid: string };
    gridPos: { x: number; y: number; w: number; h: number };
    targets: { expr: string; datasource: { type: string; uid: string } }[];
  }[];
}

const loadDashboard = (): Dashboard =>
  JSON.parse(readFileSync(new URL('../../../docker/grafana/scatter-dashboard.json', import.meta.url), 'utf8')) as Dashboard;

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
      lunHealth: () => [{ target: 'iqn.2026-11.io.scatter:a', lun: 0, state: 'serving', errors: new DeviceHealth().errors }],
      loginFailures: () => new LoginFailureCounts().entries(),
    });
    const exported = new Set(parseExposition(await registry.metrics()).series.map((s) => s.name));
    const dashboard = loadDashboard();
    const used = new Set<string>();
    for (const p of dashboard.panels) {
      for (const t of p.targets) for (const m of t.expr.matchAll(/\b(?:scatter|process|nodejs)_[a-z0-9_]+/g)) used.add(m[0]);
    }
    expect(used.size).toBeGreaterThan(15);
    for (const name of used) expect(exported, name).toContain(name);
  });

  it('imports as-is: the data source is a variable every panel and query uses, panel ids are unique, panels do not overlap', () => {
    const d = loadDashboard();
    // No fixed id: Grafana assigns one on import.
    expect(d.id ?? null).toBeNull();
    expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ds = { type: 'prometheus', uid: '${datasource}' };
    for (const p of d.panels) {
      expect(p.datasource, p.title).toEqual(ds);
      for (const t of p.targets) expect(t.datasource, p.title).toEqual(ds);
    }
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    const cells = new Map<string, string>();
    for (const p of d.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row++) {
        for (let col = x; col < x + w; col++) {
          const key = `${col},${row}`;
          expect(cells.get(key), `${p.title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, p.title);
        }
      }
    }
  });
});
