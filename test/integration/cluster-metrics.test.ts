/**
 * The scatter_cluster_* metric families on two cluster nodes in this process over a private etcd
 * (as in cluster-two-nodes.test.ts): each node's /metrics shows whether it owns the LU, its ALUA
 * state (one of five, 1 for the current), its lease state and fences; after a drain the owner
 * changes counter has grown on both nodes and owner and states have swapped. A single node's
 * /metrics has no cluster family at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessState } from '../../src/scsi/alua.js';
import { AdminClient } from '../helpers/admin-client.js';
import { startTwoNodes, stateOn, type TwoNodes } from '../helpers/cluster.js';
import { missingEtcd } from '../helpers/etcd.js';
import { scrape, type Exposition } from '../helpers/metrics.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { waitUntil } from '../helpers/wait.js';

const missing = missingEtcd();
const AO = AccessState.ACTIVE_OPTIMIZED;
const STANDBY = AccessState.STANDBY;
const LU = { target: TEST_IQN, lun: '0' };
const ALUA_STATES = ['active_optimized', 'active_non_optimized', 'standby', 'unavailable', 'transitioning'];
const LEASE_STATES = ['new', 'live', 'fenced', 'lost', 'closed'];
const FAMILIES = ['scatter_cluster_alua_state', 'scatter_cluster_lu_owner', 'scatter_cluster_owner_changes_total', 'scatter_cluster_lease_state', 'scatter_cluster_fences_total'];

async function metrics(t: TestTarget): Promise<Exposition> {
  return (await scrape(t.scatter.adminPort!)).exposition;
}

/** The state labels of `name` whose value is 1, and that every listed state has exactly one series. */
function current(m: Exposition, name: string, states: string[], labels: Record<string, string> = {}): string[] {
  const series = m.select(name, labels);
  expect(series.map((s) => s.labels.state).sort()).toEqual([...states].sort());
  for (const s of series) expect([0, 1]).toContain(s.value);
  return series.filter((s) => s.value === 1).map((s) => s.labels.state!);
}

describe.skipIf(missing.length > 0)('cluster metrics on two nodes', () => {
  let nodes: TwoNodes;
  let a: TestTarget;
  let b: TestTarget;

  beforeAll(async () => {
    nodes = await startTwoNodes();
    ({ a, b } = nodes);
  });
  afterAll(() => nodes?.stop());

  it('each node shows whether it owns the LU, its ALUA state, its lease and no fences', async () => {
    const ma = await metrics(a);
    const mb = await metrics(b);
    for (const m of [ma, mb]) {
      expect(m.types.get('scatter_cluster_alua_state')).toBe('gauge');
      expect(m.types.get('scatter_cluster_lu_owner')).toBe('gauge');
      expect(m.types.get('scatter_cluster_owner_changes_total')).toBe('counter');
      expect(m.types.get('scatter_cluster_lease_state')).toBe('gauge');
      expect(m.types.get('scatter_cluster_fences_total')).toBe('counter');
      expect(current(m, 'scatter_cluster_lease_state', LEASE_STATES)).toEqual(['live']);
      expect(m.value('scatter_cluster_fences_total')).toBe(0);
    }
    expect(ma.value('scatter_cluster_lu_owner', LU)).toBe(1);
    expect(mb.value('scatter_cluster_lu_owner', LU)).toBe(0);
    expect(current(ma, 'scatter_cluster_alua_state', ALUA_STATES, LU)).toEqual(['active_optimized']);
    expect(current(mb, 'scatter_cluster_alua_state', ALUA_STATES, LU)).toEqual(['standby']);
    // a counted its own election; b joined with a already the owner.
    expect(ma.value('scatter_cluster_owner_changes_total', LU)).toBe(1);
    expect(mb.value('scatter_cluster_owner_changes_total', LU)).toBe(0);
  });

  it('after a drain the owner changes counters have grown, and owner and states have swapped', async () => {
    const before = { a: (await metrics(a)).value('scatter_cluster_owner_changes_total', LU), b: (await metrics(b)).value('scatter_cluster_owner_changes_total', LU) };
    const moved = await AdminClient.of(a).request('POST', '/v1/cluster/drain', {
      body: JSON.stringify({ target: TEST_IQN, lun: 0, to: 'b' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(moved.status, moved.text).toBe(200);
    await waitUntil(() => stateOn(b) === AO && stateOn(a) === STANDBY, 'b is Active/Optimized and a Standby');
    const ma = await metrics(a);
    const mb = await metrics(b);
    expect(ma.value('scatter_cluster_lu_owner', LU)).toBe(0);
    expect(mb.value('scatter_cluster_lu_owner', LU)).toBe(1);
    expect(current(ma, 'scatter_cluster_alua_state', ALUA_STATES, LU)).toEqual(['standby']);
    expect(current(mb, 'scatter_cluster_alua_state', ALUA_STATES, LU)).toEqual(['active_optimized']);
    expect(ma.value('scatter_cluster_owner_changes_total', LU)).toBeGreaterThan(before.a);
    expect(mb.value('scatter_cluster_owner_changes_total', LU)).toBe(before.b + 1);
    for (const m of [ma, mb]) expect(current(m, 'scatter_cluster_lease_state', LEASE_STATES)).toEqual(['live']);
  });
});

describe('cluster metrics on a single node', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startTestTarget();
  });
  afterAll(() => t?.stop());

  it('/metrics has no scatter_cluster_* family', async () => {
    const m = await metrics(t);
    expect(m.series.filter((s) => s.name.startsWith('scatter_cluster_'))).toEqual([]);
    for (const f of FAMILIES) expect(m.types.has(f), f).toBe(false);
  });
});
