/** /v1/cluster on a single node: both routes answer 404 problems saying it is not in cluster mode (test/integration/cluster-two-nodes.test.ts has the cluster). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../helpers/admin-client.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../../helpers/target.js';

describe('admin API cluster routes on a single node', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startTestTarget();
  });
  afterAll(() => t.stop());

  it('GET /v1/cluster and POST /v1/cluster/drain are 404 problems naming cluster mode; /healthz has no cluster part', async () => {
    const api = AdminClient.of(t);
    const status = await api.get('/v1/cluster');
    expect(status.status).toBe(404);
    expect(status.headers.get('content-type')).toContain('application/problem+json');
    expect(status.json?.detail).toMatch(/not in cluster mode/);
    const drain = await api.request('POST', '/v1/cluster/drain', {
      body: JSON.stringify({ target: TEST_IQN, lun: 0, to: 'b' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(drain.status).toBe(404);
    expect(drain.json?.detail).toMatch(/not in cluster mode/);
    const bad = await api.request('POST', '/v1/cluster/drain', { body: JSON.stringify({ target: TEST_IQN, lun: -1 }), headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    const health = await fetch(`http://127.0.0.1:${t.scatter.adminPort}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});
