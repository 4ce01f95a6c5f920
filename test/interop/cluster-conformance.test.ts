/**
 * Issue 14's conformance proof: libiscsi's whole suite with its two URLs on two different cluster
 * nodes (one etcd, one backing file, both paths active: the owner Active/Optimized, the other
 * Active/Non-optimized), so that the multipath, reservation and two-nexus tests cross nodes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessState } from '../../src/scsi/alua.js';
import { allSuitesList, expectClean, runTestCu } from '../helpers/libiscsi-cu.js';
import { missingEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { missingTools } from '../helpers/tools.js';
import { waitUntil } from '../helpers/wait.js';

const missing = [...missingTools(['iscsi-test-cu']), ...missingEtcd()];
const RUN_TIMEOUT_MS = 600_000;

describe.skipIf(missing.length > 0)('libiscsi conformance across two cluster nodes', () => {
  let etcd: TestEtcd;
  let shared: string;
  let a: TestTarget;
  let b: TestTarget;
  const name = `c${randomBytes(4).toString('hex')}`;

  function node(nodeId: string, portGroup: number): Promise<TestTarget> {
    return startTestTarget((raw) => {
      raw.cluster = { name, nodeId, portGroup, etcd: { endpoints: [etcd.endpoint] }, nonOwnerState: 'active-non-optimized' };
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'file', path: join(shared, 'plain.img'), size: '64MiB' }, sanitizeRate: '10MiB' },
      ];
    });
  }

  beforeAll(async () => {
    etcd = await startEtcd();
    shared = mkdtempSync(join(tmpdir(), 'scatter-cluster-cu-'));
    a = await node('a', 1);
    await waitUntil(() => a.scatter.cluster!.node.accessStateOf({ iqn: TEST_IQN, lun: 0 }) === AccessState.ACTIVE_OPTIMIZED, 'node a owns LUN 0');
    b = await node('b', 2);
    await waitUntil(() => b.scatter.cluster!.node.accessStateOf({ iqn: TEST_IQN, lun: 0 }) === AccessState.ACTIVE_NON_OPTIMIZED, 'node b is Active/Non-optimized');
  }, 60_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await etcd?.stop();
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  it('iscsi-test-cu -d -S -t ALL with one URL per node: no FAILED test', async () => {
    const urls = [a, b].map((t) => `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`);
    const r = await runTestCu(await allSuitesList(shared), urls, { flags: ['-d', '-S', '-v'], timeoutMs: RUN_TIMEOUT_MS });
    expectClean(r, { minRan: 230 });
    expect(r.res.failed, r.out).toEqual([]);
  }, RUN_TIMEOUT_MS + 30_000);
});
