/**
 * `scatter cluster status|drain` (the built CLI as a real process) against two Scatter nodes of
 * one cluster in this process over a private etcd (as in cluster-two-nodes.test.ts), and against
 * a single node: status names both nodes and the owner through either node; a drain through the
 * owner moves the LU (status through the other node then names it); a drain through the
 * non-owner fails with exit 4 naming the owner; a single node says it is not in cluster mode.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessState } from '../../src/scsi/alua.js';
import { cliSuite, freePort, logged, scratchDir, startCli } from '../helpers/cli-proc.js';
import { startTwoNodes, stateOn, type TwoNodes } from '../helpers/cluster.js';
import { missingEtcd } from '../helpers/etcd.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { waitUntil, within } from '../helpers/wait.js';

const missing = missingEtcd();
const AO = AccessState.ACTIVE_OPTIMIZED;
const STANDBY = AccessState.STANDBY;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `scatter --url <t's admin API> --token-file <t's token> ...args`. */
async function scatter(t: TestTarget, args: string[]): Promise<Run> {
  const p = startCli(['--url', `http://127.0.0.1:${t.scatter.adminPort}`, '--token-file', join(t.config.stateDir, 'admin-token'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
    cwd: tmpdir(),
  });
  const code = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

/** The data rows of the table under `heading` ("Nodes:", "LUs:") in status output, split on runs of blanks. */
function rows(out: string, heading: string): string[][] {
  const lines = out.split('\n');
  const at = lines.indexOf(heading);
  expect(at, `${heading} in\n${out}`).toBeGreaterThanOrEqual(0);
  const body: string[][] = [];
  for (const l of lines.slice(at + 2)) {
    if (!l.startsWith('  ')) break;
    body.push(l.trim().split(/\s{2,}/));
  }
  return body;
}

describe.skipIf(missing.length > 0)('scatter cluster status|drain against two nodes', () => {
  cliSuite();
  let nodes: TwoNodes;
  let a: TestTarget;
  let b: TestTarget;
  let name: string;

  beforeAll(async () => {
    nodes = await startTwoNodes();
    ({ a, b, name } = nodes);
  });
  afterAll(() => nodes?.stop());

  it('status shows both nodes, the lease, etcd and the owner, through either node', async () => {
    for (const [t, self, state] of [
      [a, 'a', 'active/optimized'],
      [b, 'b', 'standby'],
    ] as const) {
      const r = await scatter(t, ['cluster', 'status']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^cluster: +${name}$`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^this node: +${self} \\(port group ${self === 'a' ? 1 : 2}\\)$`, 'm'));
      expect(r.stdout).toMatch(/^lease: +live, TTL 2s, id \w+$/m);
      expect(r.stdout).toMatch(new RegExp(`^etcd: +reachable, version 3\\.[0-9.]+ \\(${nodes.etcd.endpoint.replace(/[.]/g, '\\.')}\\)$`, 'm'));
      expect(r.stdout).toMatch(/^config revision: +\d+$/m);
      expect(rows(r.stdout, 'Nodes:')).toEqual([
        [self === 'a' ? 'a (this node)' : 'a', '1', `127.0.0.1:${a.port}`, 'yes'],
        [self === 'b' ? 'b (this node)' : 'b', '2', `127.0.0.1:${b.port}`, 'yes'],
      ]);
      // Owner changes as this node saw them: a counted its own election, b joined after it.
      expect(rows(r.stdout, 'LUs:')).toEqual([[TEST_IQN, '0', 'a', self === 'a' ? 'owner' : 'follower', state, self === 'a' ? '1' : '0']]);
    }
  });

  it('status --json prints the API data', async () => {
    const r = await scatter(b, ['cluster', 'status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(s).toMatchObject({
      cluster: name,
      nodeId: 'b',
      portGroup: 2,
      lease: { state: 'live', ttlSeconds: 2 },
      etcd: { reachable: true, endpoints: [nodes.etcd.endpoint] },
      lus: [{ target: TEST_IQN, lun: 0, owner: 'a', phase: 'follower', accessState: 'standby' }],
    });
    expect((s.nodes as { nodeId: string }[]).map((n) => n.nodeId)).toEqual(['a', 'b']);
    expect(typeof s.configRevision).toBe('number');
  });

  it('drain through the node that does not own the LU fails with exit 4, naming the owner and its admin API', async () => {
    const r = await scatter(b, ['cluster', 'drain', TEST_IQN, '0', '--to', 'a']);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('(HTTP 409)');
    expect(r.stderr).toContain('owned by node a, not this one');
    expect(r.stderr).toContain(`node a's admin API: --url http://127.0.0.1:${a.scatter.adminPort}`);
    expect(stateOn(a)).toBe(AO);
  });

  it('drain through the owner moves the LU; status through the other node then names it the owner', async () => {
    const changes = async (t: TestTarget): Promise<number> =>
      (JSON.parse((await scatter(t, ['cluster', 'status', '--json'])).stdout) as { lus: { ownerChanges: number }[] }).lus[0]!.ownerChanges;
    const [beforeA, beforeB] = [await changes(a), await changes(b)];
    const r = await scatter(a, ['cluster', 'drain', TEST_IQN, '0', '--to', 'b']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^moved ${TEST_IQN.replace(/[.]/g, '\\.')} LUN 0 from a to b in \\d+ ms\\n$`));
    await waitUntil(() => stateOn(b) === AO && stateOn(a) === STANDBY, 'b is Active/Optimized and a Standby');
    const s = await scatter(b, ['cluster', 'status']);
    expect(s.code, s.stderr).toBe(0);
    expect(rows(s.stdout, 'LUs:')).toEqual([[TEST_IQN, '0', 'b', 'owner', 'active/optimized', String(beforeB + 1)]]);
    const old = await scatter(a, ['cluster', 'status']);
    const [row] = rows(old.stdout, 'LUs:');
    expect(row!.slice(0, 5)).toEqual([TEST_IQN, '0', 'b', 'follower', 'standby']);
    expect(Number(row![5])).toBeGreaterThan(beforeA);
    // --json gives the API's answer.
    const back = await scatter(b, ['cluster', 'drain', TEST_IQN, '0', '--to', 'a', '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ target: TEST_IQN, lun: 0, from: 'b', to: 'a', ms: expect.any(Number) });
    await waitUntil(() => stateOn(a) === AO && stateOn(b) === STANDBY, 'a owns it again');
  });

  it('drain of a LUN that does not exist, or to a node that is not there, fails with the reason', async () => {
    const none = await scatter(a, ['cluster', 'drain', TEST_IQN, '9', '--to', 'b']);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain(`no LUN 9 of target ${TEST_IQN} on this node`);
    const nobody = await scatter(a, ['cluster', 'drain', TEST_IQN, '0', '--to', 'zz']);
    expect(nobody.code).toBe(4);
    expect(nobody.stderr).toContain('node zz is not live in the cluster');
    expect(nobody.stderr).not.toContain('admin API');
    const self = await scatter(a, ['cluster', 'drain', TEST_IQN, '0', '--to', 'a']);
    expect(self.code).toBe(4);
    expect(self.stderr).toContain('which is this node');
    expect(self.stderr).not.toContain('admin API');
    const bad = await scatter(a, ['cluster', 'drain', TEST_IQN, 'x', '--to', 'b']);
    expect(bad.code).toBe(2);
    const noTo = await scatter(a, ['cluster', 'drain', TEST_IQN, '0']);
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toContain("required option '--to <node>'");
  });
});

describe('scatter cluster against a single node', () => {
  cliSuite();
  let t: TestTarget;
  beforeAll(async () => {
    t = await startTestTarget();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('status and drain say the node is not in cluster mode, exit 3', async () => {
    const r = await scatter(t, ['cluster', 'status']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `scatter: Not in cluster mode (HTTP 404)\n  the node at http://127.0.0.1:${t.scatter.adminPort} runs single-node (no cluster: section in its config); scatter cluster needs a cluster node\n`,
    );
    const j = await scatter(t, ['cluster', 'status', '--json']);
    expect(j.code).toBe(3);
    expect(j.stderr).toContain('Not in cluster mode');
    const d = await scatter(t, ['cluster', 'drain', TEST_IQN, '0', '--to', 'b']);
    expect(d.code).toBe(3);
    expect(d.stderr).toContain('Not in cluster mode');
  });
});

describe('scatter serve in cluster mode without etcd', () => {
  cliSuite();

  it('exits 1 at once with an error naming etcd and its endpoint (no hang on the etcd client)', async () => {
    const dir = scratchDir('scatter-noetcd-');
    const dead = `http://127.0.0.1:${await freePort()}`;
    const config = join(dir, 'node.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        stateDir: join(dir, 'state'),
        iscsi: { portals: [{ host: '127.0.0.1', port: await freePort() }] },
        admin: { port: await freePort() },
        cluster: { name: 'lab', nodeId: 'a', portGroup: 1, etcd: { endpoints: [dead] } },
      }),
    );
    const p = startCli(['serve', '--config', config]);
    expect(await within(p.exited, 10_000, 'scatter serve exits')).toBe(1);
    const failed = logged(p, 'start-up failed')[0] as { err?: { message?: string; code?: string } } | undefined;
    expect(failed?.err?.code).toBe('ETCD_UNAVAILABLE');
    expect(failed?.err?.message).toContain(dead);
  });
});
