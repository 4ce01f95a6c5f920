/**
 * Two cluster nodes of Scatter in this process over a private etcd and one shared backing file
 * (docs/cluster.md): node a starts first, seeds the shared config and owns the LUs; node b joins
 * and stands by (or is Active/Non-optimized).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessState } from '../../src/scsi/alua.js';
import { startEtcd, type TestEtcd } from './etcd.js';
import { TEST_IQN, startTestTarget, type TestTarget } from './target.js';
import { waitUntil } from './wait.js';

export interface TwoNodes {
  readonly etcd: TestEtcd;
  /** The directory of the shared backing files. */
  readonly shared: string;
  /** The cluster's name (random: its keys never meet another test's). */
  readonly name: string;
  readonly a: TestTarget;
  readonly b: TestTarget;
  /** Stops b, a (if not stopped yet) and etcd; removes the shared directory. */
  stop(): Promise<void>;
}

export interface TwoNodesOptions {
  readonly nonOwnerState?: 'standby' | 'active-non-optimized';
  /** The `cluster:` keys beyond name, nodeId, portGroup, endpoints (default: a 2 s lease, 300 ms grace). */
  readonly cluster?: Record<string, unknown>;
  /** TEST_IQN's LUNs as the file holds them, given the shared directory (default: LUN 0, a 16 MiB file). */
  readonly luns?: (shared: string) => unknown[];
}

/** Node `t`'s own ALUA state for TEST_IQN's LUN `lun`. */
export function stateOn(t: TestTarget, lun = 0): AccessState {
  return t.scatter.cluster!.node.accessStateOf({ iqn: TEST_IQN, lun });
}

export async function startTwoNodes(opts: TwoNodesOptions = {}): Promise<TwoNodes> {
  const etcd = await startEtcd();
  const shared = mkdtempSync(join(tmpdir(), 'scatter-cluster-'));
  const name = `t${randomBytes(4).toString('hex')}`;
  const nonOwnerState = opts.nonOwnerState ?? 'standby';
  const luns = opts.luns ?? ((dir: string) => [{ lun: 0, backstore: { type: 'file', path: join(dir, 'lun0.img'), size: '16MiB' } }]);
  const node = (nodeId: string, portGroup: number): Promise<TestTarget> =>
    startTestTarget((raw) => {
      raw.cluster = { name, nodeId, portGroup, etcd: { endpoints: [etcd.endpoint] }, leaseTtlSeconds: 2, graceMs: 300, nonOwnerState, ...opts.cluster };
      (raw.targets as { luns: unknown[] }[])[0]!.luns = luns(shared);
    });
  const started: TestTarget[] = [];
  const stop = async (): Promise<void> => {
    for (const t of started.reverse()) await t.stop();
    await etcd.stop();
    rmSync(shared, { recursive: true, force: true });
  };
  try {
    const a = await node('a', 1);
    started.push(a);
    await waitUntil(() => stateOn(a) === AccessState.ACTIVE_OPTIMIZED, 'node a is Active/Optimized');
    const b = await node('b', 2);
    started.push(b);
    const follower = nonOwnerState === 'standby' ? AccessState.STANDBY : AccessState.ACTIVE_NON_OPTIMIZED;
    await waitUntil(() => stateOn(b) === follower && b.scatter.cluster!.node.luStates()[0]?.owner === 'a', `node b sees a as owner and is ${nonOwnerState}`);
    return { etcd, shared, name, a, b, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
