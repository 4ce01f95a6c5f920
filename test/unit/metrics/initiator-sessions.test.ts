import { describe, expect, it } from 'vitest';
import { Mempool } from '../../../src/block/mempool.js';
import { createMetricsRegistry } from '../../../src/metrics/registry.js';
import type { SessionSource, TargetSource } from '../../../src/metrics/sources.js';
import { createStats } from '../../../src/scsi/stats.js';
import { parseExposition, type Exposition } from '../../helpers/metrics.js';

const GUARDED = 'iqn.2026-11.io.scatter:guarded';
const OPEN = 'iqn.2026-11.io.scatter:open';
const DB = 'iqn.2026-11.io.example:db';
const NAME = 'scatter_iscsi_initiator_sessions';

async function scrape(targets: TargetSource[], sessions: SessionSource[]): Promise<Exposition> {
  const pool = new Mempool({ pages: 1, pageSize: 4096, allocateRun: (n) => new ArrayBuffer(n) });
  const registry = createMetricsRegistry(
    {
      targets: () => targets,
      luns: () => [],
      pools: () => [{ name: 'bounce', stats: pool.stats }],
      sessions: () => sessions,
      connections: () => 0,
      writeBudget: () => ({ limit: 1, inUse: 0, waiting: 0 }),
      readBudget: () => ({ limit: 1, inUse: 0, waiting: 0 }),
      admission: () => ({ preLogin: 0, evicted: 0 }),
    },
    { processMetrics: false },
  );
  return parseExposition(await registry.metrics());
}

describe('scatter_iscsi_initiator_sessions', () => {
  it('has one series per ACL entry and one "other" per target, 0 when idle', async () => {
    const m = await scrape(
      [
        { iqn: GUARDED, stats: createStats(), aclInitiators: [DB] },
        { iqn: OPEN, stats: createStats() },
      ],
      [],
    );
    expect(m.select(NAME).map((s) => [s.labels, s.value])).toEqual([
      [{ target: GUARDED, initiator: DB }, 0],
      [{ target: GUARDED, initiator: 'other' }, 0],
      [{ target: OPEN, initiator: 'other' }, 0],
    ]);
  });

  it('counts normal sessions under their bounded label; discovery sessions and unknown targets are not counted', async () => {
    const m = await scrape(
      [
        { iqn: GUARDED, stats: createStats(), aclInitiators: [DB] },
        { iqn: OPEN, stats: createStats() },
      ],
      [
        { target: GUARDED, discovery: false, initiator: DB },
        { target: GUARDED, discovery: false, initiator: DB },
        { target: OPEN, discovery: false, initiator: 'other' },
        { target: OPEN, discovery: false }, // no label given: "other"
        { target: '', discovery: true, initiator: 'other' },
        { target: 'iqn.2026-11.io.scatter:removed', discovery: false },
      ],
    );
    expect(m.value(NAME, { target: GUARDED, initiator: DB })).toBe(2);
    expect(m.value(NAME, { target: GUARDED, initiator: 'other' })).toBe(0);
    expect(m.value(NAME, { target: OPEN, initiator: 'other' })).toBe(2);
    expect(m.select(NAME)).toHaveLength(3);
  });
});
