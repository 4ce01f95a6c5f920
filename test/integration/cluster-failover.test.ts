/**
 * Failover between two `scatter serve` processes of one cluster (docs/cluster.md, "Fencing before
 * failover"), over a private etcd and one backing file:
 * - kill -9 of the owner: the other node becomes Active/Optimized within the 5 s (the
 *   lease's TTL plus the grace), every write the dead node acknowledged reads back through it,
 *   and the reservation made through the dead node is still in force;
 * - the killed node, restarted, rejoins as Standby;
 * - a stopped owner (SIGSTOP) that wakes after another node took over executes nothing it
 *   received meanwhile: the write it had queued is refused, and the new owner's data stays.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePort, startCli, type CliProc } from '../helpers/cli-proc.js';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { missingEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { TestInitiator } from '../helpers/initiator.js';
import { IN, SA, TYPES, parseReadReservation, prInCdb, prOutCdb, prOutParams } from '../helpers/pr.js';
import { waitUntil } from '../helpers/wait.js';

const missing = missingEtcd();
const IQN = 'iqn.2026-12.io.scatter:failover';
const GOOD = 0;
const CHECK_CONDITION = 2;
const BLOCK = 512;
const TTL_S = 2;
const GRACE_MS = 500;

interface Node {
  id: string;
  port: number;
  adminPort: number;
  stateDir: string;
  config: string;
  proc?: CliProc;
}

describe.skipIf(missing.length > 0)('cluster failover between two processes', () => {
  // Not cliSuite(): its hooks kill every process and remove scratch dirs after each test, and these
  // nodes live through the whole file.
  let etcd: TestEtcd;
  let dir: string;
  const nodes: Record<'a' | 'b', Node> = {} as Record<'a' | 'b', Node>;
  const cluster = `f${randomBytes(4).toString('hex')}`;

  async function makeNode(id: 'a' | 'b', portGroup: number): Promise<Node> {
    const n: Node = { id, port: await freePort(), adminPort: await freePort(), stateDir: join(dir, `state-${id}`), config: join(dir, `${id}.yaml`) };
    // YAML is a superset of JSON.
    const config = {
      logLevel: 'info',
      stateDir: n.stateDir,
      iscsi: { portals: [{ host: '127.0.0.1', port: n.port }], nopInInterval: 0 },
      admin: { host: '127.0.0.1', port: n.adminPort },
      targets: [{ iqn: IQN, luns: [{ lun: 0, backstore: { type: 'file', path: join(dir, 'lun0.img'), size: '16MiB' } }] }],
      cluster: { name: cluster, nodeId: id, portGroup, etcd: { endpoints: [etcd.endpoint] }, leaseTtlSeconds: TTL_S, graceMs: GRACE_MS },
    };
    writeFileSync(n.config, JSON.stringify(config, null, 2));
    return n;
  }

  function start(n: Node): CliProc {
    n.proc = startCli(['serve', '--config', n.config]);
    return n.proc;
  }

  /** This node's view of LUN 0 from GET /v1/cluster (undefined while it does not answer). */
  async function lu0(n: Node): Promise<{ owner: string | null; accessState: string } | undefined> {
    try {
      const token = readFileSync(join(n.stateDir, 'admin-token'), 'utf8').trim();
      const r = await fetch(`http://127.0.0.1:${n.adminPort}/v1/cluster`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
      if (!r.ok) return undefined;
      const body = (await r.json()) as { lus: { lun: number; owner: string | null; accessState: string }[] };
      return body.lus.find((l) => l.lun === 0);
    } catch {
      return undefined;
    }
  }

  async function until(n: Node, owner: string, state: string): Promise<void> {
    await waitUntil(
      async () => {
        if (n.proc && n.proc.child.exitCode !== null) {
          await n.proc.exited;
          throw new Error(`node ${n.id} exited: ${n.proc.stderr}`);
        }
        const s = await lu0(n);
        return s?.owner === owner && s.accessState === state;
      },
      `node ${n.id} reports owner ${owner} and ${state}`,
      20_000,
    );
  }

  async function session(n: Node): Promise<TestInitiator> {
    const i = await TestInitiator.connect(n.port);
    expect((await i.login({ targetName: IQN })).status).toEqual([0, 0]);
    return i;
  }

  /** TEST UNIT READY until GOOD: what an initiator's retries do while the path is not active. */
  async function untilReady(i: TestInitiator): Promise<void> {
    await waitUntil(async () => (await i.command({ cdb: testUnitReady() })).status === GOOD, 'TEST UNIT READY is GOOD', 20_000);
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');
    etcd = await startEtcd();
    dir = mkdtempSync(join(tmpdir(), 'scatter-failover-'));
    nodes.a = await makeNode('a', 1);
    nodes.b = await makeNode('b', 2);
    start(nodes.a);
    await until(nodes.a, 'a', 'active/optimized');
    start(nodes.b);
    await until(nodes.b, 'a', 'standby');
  }, 60_000);
  afterAll(async () => {
    for (const n of Object.values(nodes)) {
      n.proc?.child.kill('SIGCONT');
      n.proc?.child.kill('SIGKILL');
      await n.proc?.exited;
    }
    await etcd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 of the owner: the other node takes over within 5 s and has every acknowledged write', async () => {
    const ia = await session(nodes.a);
    const ib = await session(nodes.b);
    await untilReady(ia);
    const written: Buffer[] = [];
    for (let k = 0; k < 32; k++) {
      const data = randomBytes(8 * BLOCK);
      expect((await ia.command({ cdb: write10(k * 8, 8), write: data })).status).toBe(GOOD);
      written.push(data);
    }
    // A reservation held through the node about to die.
    expect((await ia.command({ cdb: prOutCdb(SA.REGISTER), write: prOutParams(0n, 0xaan) })).status).toBe(GOOD);
    expect((await ia.command({ cdb: prOutCdb(SA.RESERVE, TYPES.WE_RO), write: prOutParams(0xaan, 0n) })).status).toBe(GOOD);
    const killedAt = performance.now();
    nodes.a.proc!.child.kill('SIGKILL');
    await untilReady(ib);
    const failoverMs = performance.now() - killedAt;
    console.log(`failover: node b served I/O ${Math.round(failoverMs)} ms after kill -9 of the owner (TTL ${TTL_S} s, grace ${GRACE_MS} ms)`);
    expect(failoverMs).toBeLessThan(5000);
    for (let k = 0; k < 32; k++) {
      const r = await ib.command({ cdb: read10(k * 8, 8), read: 8 * BLOCK });
      expect(r.status).toBe(GOOD);
      expect(r.data.equals(written[k]!)).toBe(true);
    }
    await until(nodes.b, 'b', 'active/optimized');
    // The reservation outlived its holder's node: b reports it, and b's nexus (not registered) may read but not write.
    expect(parseReadReservation((await ib.command({ cdb: prInCdb(IN.READ_RESERVATION), read: 4096 })).data)).toMatchObject({ key: 0xaan, type: TYPES.WE_RO });
    expect((await ib.command({ cdb: write10(0, 1), write: Buffer.alloc(BLOCK) })).status).toBe(0x18); // RESERVATION CONFLICT
    expect((await ib.command({ cdb: prOutCdb(SA.REGISTER), write: prOutParams(0n, 0xbbn) })).status).toBe(GOOD);
    expect((await ib.command({ cdb: prOutCdb(SA.PREEMPT, TYPES.WE_RO), write: prOutParams(0xbbn, 0xaan) })).status).toBe(GOOD);
    expect((await ib.command({ cdb: prOutCdb(SA.CLEAR), write: prOutParams(0xbbn, 0n) })).status).toBe(GOOD);
    ia.close();
    ib.close();
  }, 60_000);

  it('the killed node, restarted, rejoins as Standby', async () => {
    start(nodes.a);
    await until(nodes.a, 'b', 'standby');
    const ia = await session(nodes.a);
    const r = await ia.command({ cdb: testUnitReady() });
    // The power-on unit attention, then the standby answer.
    expect(r.status).toBe(CHECK_CONDITION);
    expect(senseCodes((await ia.command({ cdb: testUnitReady() })).sense)).toEqual([0x02, 0x04, 0x0b]);
    ia.close();
  }, 60_000);

  it('a stopped owner that wakes after the takeover executes nothing it received meanwhile', async () => {
    const ib = await session(nodes.b);
    const ia = await session(nodes.a);
    await untilReady(ib);
    const first = Buffer.alloc(BLOCK, 0x11);
    const stale = Buffer.alloc(BLOCK, 0x22);
    const fresh = Buffer.alloc(BLOCK, 0x33);
    expect((await ib.command({ cdb: write10(500, 1), write: first })).status).toBe(GOOD);

    nodes.b.proc!.child.kill('SIGSTOP');
    // Sent to the stopped owner: it sits in the socket until the process runs again.
    const late = ib.command({ cdb: write10(500, 1), write: stale });
    await until(nodes.a, 'a', 'active/optimized');
    await untilReady(ia);
    expect((await ia.command({ cdb: write10(500, 1), write: fresh })).status).toBe(GOOD);

    nodes.b.proc!.child.kill('SIGCONT');
    const answer = await late;
    expect(answer.status).toBe(CHECK_CONDITION);
    // NOT READY (unavailable / transitioning) or the unit attention of the state change: never GOOD.
    expect([0x02, 0x06]).toContain(senseCodes(answer.sense)![0]);
    const r = await ia.command({ cdb: read10(500, 1), read: BLOCK });
    expect(r.data.equals(fresh)).toBe(true);
    // The woken node finds its lease gone and rejoins as Standby.
    await until(nodes.b, 'a', 'standby');
    ia.close();
    ib.close();
  }, 60_000);
});
