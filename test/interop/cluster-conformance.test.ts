/**
 * Issue 14's conformance proof: libiscsi's whole suite with its two URLs on two different cluster
 * nodes (one etcd, one backing file, both paths active: the owner Active/Optimized, the other
 * Active/Non-optimized), so that the multipath, reservation and two-nexus tests cross nodes.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allSuitesList, expectClean, runTestCu } from '../helpers/libiscsi-cu.js';
import { startTwoNodes, type TwoNodes } from '../helpers/cluster.js';
import { missingEtcd } from '../helpers/etcd.js';
import { TEST_IQN } from '../helpers/target.js';
import { missingTools } from '../helpers/tools.js';

const missing = [...missingTools(['iscsi-test-cu']), ...missingEtcd()];
const RUN_TIMEOUT_MS = 600_000;

describe.skipIf(missing.length > 0)('libiscsi conformance across two cluster nodes', () => {
  let nodes: TwoNodes;

  beforeAll(async () => {
    nodes = await startTwoNodes({
      nonOwnerState: 'active-non-optimized',
      luns: (shared) => [{ lun: 0, backstore: { type: 'file', path: join(shared, 'plain.img'), size: '64MiB' }, sanitizeRate: '10MiB' }],
    });
  }, 60_000);
  afterAll(() => nodes?.stop());

  it('iscsi-test-cu -d -S -t ALL with one URL per node: no FAILED test', async () => {
    const urls = [nodes.a, nodes.b].map((t) => `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`);
    const r = await runTestCu(await allSuitesList(nodes.shared), urls, { flags: ['-d', '-S', '-v'], timeoutMs: RUN_TIMEOUT_MS });
    expectClean(r, { minRan: 230 });
    expect(r.res.failed, r.out).toEqual([]);
  }, RUN_TIMEOUT_MS + 30_000);
});
