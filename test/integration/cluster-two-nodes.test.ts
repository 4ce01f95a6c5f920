/**
 * Two Scatter nodes of one cluster in this process, over one etcd (a private member) and one
 * backing file (docs/cluster.md): the first node seeds the shared config and owns the LUs
 * (Active/Optimized after its grace), the second serves the same LU identity as Standby; REPORT
 * TARGET PORT GROUPS through either node lists both groups; a drain through the admin API moves
 * ownership with the data intact and an ASYMMETRIC ACCESS STATE CHANGED on the old path; a
 * config change through one node's API appears on the other; a node that leaves (lease revoked)
 * hands its LUs over.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessState } from '../../src/scsi/alua.js';
import { AdminClient } from '../helpers/admin-client.js';
import { groupsOf, preferredOf, rtpg } from '../helpers/alua.js';
import { inquiry, read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { startTwoNodes, stateOn, type TwoNodes } from '../helpers/cluster.js';
import { missingEtcd, type TestEtcd } from '../helpers/etcd.js';
import { IN, SA, TYPES, parseReadKeys, parseReadReservation, prInCdb, prOutCdb, prOutParams } from '../helpers/pr.js';
import { TestInitiator } from '../helpers/initiator.js';
import { TEST_IQN, type TestTarget } from '../helpers/target.js';
import { waitUntil } from '../helpers/wait.js';

const missing = missingEtcd();
const GOOD = 0;
const CHECK_CONDITION = 2;
const AO = AccessState.ACTIVE_OPTIMIZED;
const STANDBY = AccessState.STANDBY;
const BLOCK = 512;

describe.skipIf(missing.length > 0)('two cluster nodes over one etcd', () => {
  let nodes: TwoNodes;
  let etcd: TestEtcd;
  let a: TestTarget;
  let b: TestTarget;
  let name: string;

  function ownerOf(t: TestTarget): string | undefined {
    return t.scatter.cluster!.node.luStates().find((l) => l.lun === 0)?.owner;
  }

  /** Both nodes live and agreeing on an owner, which is Active/Optimized while the other stands by; returns the owner. */
  async function settled(): Promise<TestTarget> {
    const agreed = (): TestTarget | undefined => {
      const [oa, ob] = [ownerOf(a), ownerOf(b)];
      if (oa === undefined || oa !== ob || a.scatter.cluster!.node.leaseState !== 'live' || b.scatter.cluster!.node.leaseState !== 'live') return undefined;
      const [owner, other] = oa === 'a' ? [a, b] : [b, a];
      return stateOn(owner) === AO && stateOn(other) === STANDBY ? owner : undefined;
    };
    await waitUntil(() => agreed() !== undefined, 'both nodes live and agreeing on an Active/Optimized owner', 20_000);
    return agreed()!;
  }

  /** A session to `t`; a second one to the same node needs its own initiator name, or it would reinstate the first. */
  async function session(t: TestTarget, initiatorName?: string): Promise<TestInitiator> {
    const i = await TestInitiator.connect(t.port);
    expect((await i.login({ targetName: TEST_IQN, ...(initiatorName && { initiatorName }) })).status).toEqual([0, 0]);
    // The power-on unit attention first.
    await i.command({ cdb: testUnitReady() });
    return i;
  }

  async function groups(i: TestInitiator): Promise<{ states: [number, number, number[]][]; pref: Map<number, boolean> }> {
    const r = await i.command({ cdb: rtpg(512), read: 512 });
    expect(r.status).toBe(GOOD);
    return { states: groupsOf(r.data), pref: preferredOf(r.data) };
  }

  beforeAll(async () => {
    nodes = await startTwoNodes();
    ({ etcd, a, b, name } = nodes);
  });
  afterAll(() => nodes?.stop());

  it('reports TPGS, both port groups and the owner as preferred, through either node', async () => {
    for (const [t, group] of [
      [a, 1],
      [b, 2],
    ] as const) {
      const i = await session(t);
      const inq = await i.command({ cdb: inquiry(96), read: 96 });
      expect(inq.data[5]! & 0x30).toBe(0x10); // TPGS = 01b: implicit
      const { states, pref } = await groups(i);
      expect(states).toEqual([
        [1, AO, [1]],
        [2, STANDBY, [2]],
      ]);
      expect(pref.get(1)).toBe(true);
      expect(pref.get(2)).toBe(false);
      // VPD 83h names this node's group and relative port.
      const vpd = await i.command({ cdb: inquiry(255, true, 0x83), read: 255 });
      expect(designator(vpd.data, 0x5)).toBe(group);
      expect(designator(vpd.data, 0x4)).toBe(group);
      i.close();
    }
  });

  it('the same LU identity on both nodes (NAA, serial, capacity)', async () => {
    const ia = await session(a);
    const ib = await session(b);
    const naa = async (i: TestInitiator) => (await i.command({ cdb: inquiry(255, true, 0x83), read: 255 })).data.subarray(4, 24).toString('hex');
    const serial = async (i: TestInitiator) => (await i.command({ cdb: inquiry(255, true, 0x80), read: 255 })).data.toString('latin1');
    expect(await naa(ib)).toBe(await naa(ia));
    expect(await serial(ib)).toBe(await serial(ia));
    ia.close();
    ib.close();
  });

  it('the standby node refuses media access with NOT READY, LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE', async () => {
    const i = await session(b);
    const tur = await i.command({ cdb: testUnitReady() });
    expect(tur.status).toBe(CHECK_CONDITION);
    expect(senseCodes(tur.sense)).toEqual([0x02, 0x04, 0x0b]);
    const rd = await i.command({ cdb: read10(0, 1), read: BLOCK });
    expect(senseCodes(rd.sense)).toEqual([0x02, 0x04, 0x0b]);
    i.close();
  });

  it('a drain through the admin API moves ownership; the data written through the old owner is read through the new one', async () => {
    const ia = await session(a);
    const ib = await session(b);
    const data = randomBytes(8 * BLOCK);
    expect((await ia.command({ cdb: write10(100, 8), write: data })).status).toBe(GOOD);

    const api = AdminClient.of(a);
    const moved = await api.request('POST', '/v1/cluster/drain', {
      body: JSON.stringify({ target: TEST_IQN, lun: 0, to: 'b' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.json).toMatchObject({ from: 'a', to: 'b' });
    await waitUntil(() => stateOn(b) === AO && stateOn(a) === STANDBY, 'b is Active/Optimized and a Standby');

    // The old path first reports the change, then is Standby; the new one serves the data.
    const ua = await ia.command({ cdb: testUnitReady() });
    expect(senseCodes(ua.sense)).toEqual([0x06, 0x2a, 0x06]);
    expect(senseCodes((await ia.command({ cdb: testUnitReady() })).sense)).toEqual([0x02, 0x04, 0x0b]);
    const uaB = await ib.command({ cdb: testUnitReady() });
    expect(senseCodes(uaB.sense)).toEqual([0x06, 0x2a, 0x06]);
    const rd = await ib.command({ cdb: read10(100, 8), read: 8 * BLOCK });
    expect(rd.status).toBe(GOOD);
    expect(rd.data.equals(data)).toBe(true);
    expect((await groups(ia)).states).toEqual([
      [1, STANDBY, [1]],
      [2, AO, [2]],
    ]);

    // Asked of a node that does not own it: a problem naming the owner.
    const wrong = await api.request('POST', '/v1/cluster/drain', {
      body: JSON.stringify({ target: TEST_IQN, lun: 0, to: 'b' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(wrong.status).toBe(409);
    expect(String(wrong.json?.detail)).toContain('node b');
    // And back, for the tests after this one.
    const back = await AdminClient.of(b).request('POST', '/v1/cluster/drain', {
      body: JSON.stringify({ target: TEST_IQN, lun: 0, to: 'a' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(back.status, back.text).toBe(200);
    await waitUntil(() => stateOn(a) === AO && stateOn(b) === STANDBY, 'a owns it again');
    ia.close();
    ib.close();
  });

  it('a reservation made through the owner is in force through the standby node, and the other way round', async () => {
    const ia = await session(a);
    const ib = await session(b);
    const key = 0xa1n;
    expect((await ia.command({ cdb: prOutCdb(SA.REGISTER), write: prOutParams(0n, key) })).status).toBe(GOOD);
    expect((await ia.command({ cdb: prOutCdb(SA.RESERVE, TYPES.WE), write: prOutParams(key, 0n) })).status).toBe(GOOD);
    const keys = parseReadKeys((await ib.command({ cdb: prInCdb(IN.READ_KEYS), read: 4096 })).data);
    expect(keys.keys).toEqual([key]);
    expect(parseReadReservation((await ib.command({ cdb: prInCdb(IN.READ_RESERVATION), read: 4096 })).data)).toMatchObject({ key, type: TYPES.WE });
    // B's nexus preempts A's registration through the standby node (PR OUT is allowed in Standby).
    expect((await ib.command({ cdb: prOutCdb(SA.REGISTER), write: prOutParams(0n, 0xb2n) })).status).toBe(GOOD);
    expect((await ib.command({ cdb: prOutCdb(SA.PREEMPT, TYPES.WE), write: prOutParams(0xb2n, key) })).status).toBe(GOOD);
    // A's nexus lost its registration and the reservation: a write through the owner conflicts.
    const ua = await ia.command({ cdb: testUnitReady() });
    expect(senseCodes(ua.sense)).toEqual([0x06, 0x2a, 0x05]); // REGISTRATIONS PREEMPTED
    const w = await ia.command({ cdb: write10(0, 1), write: Buffer.alloc(BLOCK) });
    expect(w.status).toBe(0x18); // RESERVATION CONFLICT
    // Clean up: B's key clears everything.
    expect((await ib.command({ cdb: prOutCdb(SA.CLEAR), write: prOutParams(0xb2n, 0n) })).status).toBe(GOOD);
    expect((await ia.command({ cdb: write10(0, 1), write: Buffer.alloc(BLOCK) })).status).toBe(GOOD);
    ia.close();
    ib.close();
  });

  it('a LOGICAL UNIT RESET through one node is a reset on the other node too, before it is reported done', async () => {
    const ia = await session(a);
    const ib = await session(b);
    expect(await ia.tmf(5 /* LOGICAL UNIT RESET */)).toBe(0);
    expect(senseCodes((await ib.command({ cdb: testUnitReady() })).sense)).toEqual([0x06, 0x29, 0x03]);
    expect(senseCodes((await ia.command({ cdb: testUnitReady() })).sense)).toEqual([0x06, 0x29, 0x03]);
    ia.close();
    ib.close();
  });

  it('a drain that cannot quiesce the LU (a write waits for its data) gives up after 10 s and the owner serves on', async () => {
    const ia = await session(a);
    // 64 KiB go as immediate data, the rest waits for an R2T the initiator does not answer.
    const held = ia.command({ cdb: write10(0, 256), write: Buffer.alloc(256 * BLOCK), holdData: true }).catch(() => undefined);
    await waitUntil(() => a.scatter.lunRegistry.get(TEST_IQN, 0)!.unit.taskSet.size > 0, 'the write is under way');
    const r = await AdminClient.of(a).request('POST', '/v1/cluster/drain', {
      body: JSON.stringify({ target: TEST_IQN, lun: 0, to: 'b' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(r.status, r.text).toBe(409);
    expect(String(r.json?.detail)).toMatch(/did not finish within 10 s; it stays with this node/);
    expect(stateOn(a)).toBe(AO);
    expect(ownerOf(b)).toBe('a');
    ia.close();
    await held;
  }, 30_000);

  it('GET /v1/cluster shows the nodes, the lease, the owner and the states', async () => {
    const r = await AdminClient.of(b).get('/v1/cluster');
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({
      cluster: name,
      nodeId: 'b',
      portGroup: 2,
      lease: { state: 'live', ttlSeconds: 2 },
      etcd: { reachable: true },
      lus: [{ target: TEST_IQN, lun: 0, owner: 'a', phase: 'follower', accessState: 'standby' }],
    });
    const nodes = (r.json!.nodes as { nodeId: string; live: boolean; portals: string[] }[]).map((n) => [n.nodeId, n.live, n.portals]);
    expect(nodes).toEqual([
      ['a', true, [`127.0.0.1:${a.port}`]],
      ['b', true, [`127.0.0.1:${b.port}`]],
    ]);
    const health = await fetch(`http://127.0.0.1:${b.scatter.adminPort}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', cluster: { nodeId: 'b', lease: 'live' } });
  });

  it('a LUN added through one node is served by the other, which stands by for it', async () => {
    const api = AdminClient.of(a);
    const added = await api.request('PUT', `/v1/targets/${TEST_IQN}/luns/3`, {
      body: JSON.stringify({ backstore: { type: 'null', size: '64MiB' } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(added.status, added.text).toBe(201);
    await waitUntil(() => b.scatter.lunRegistry.get(TEST_IQN, 3) !== undefined, 'node b opened LUN 3');
    await waitUntil(() => b.scatter.cluster!.node.accessStateOf({ iqn: TEST_IQN, lun: 3 }) === STANDBY, 'node b is Standby for LUN 3');
    await waitUntil(() => a.scatter.cluster!.node.accessStateOf({ iqn: TEST_IQN, lun: 3 }) === AO, 'node a owns LUN 3');
    expect(b.scatter.control.desired.targets[0]!.luns.map((l) => l.lun)).toEqual([0, 3]);
  });

  it('a node-local setting cannot be changed through the cluster', async () => {
    const r = await AdminClient.of(a).request('PATCH', '/v1/iscsi', {
      body: JSON.stringify({ nopInInterval: 7 }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.text).toMatch(/node's own|this node/);
  });

  it('etcd unavailable: the owner serves until its lease deadline, then fences; changes are refused naming etcd; afterwards nothing is lost', async () => {
    const ia = await session(a);
    const key = 0xe7cdn;
    expect((await ia.command({ cdb: prOutCdb(SA.REGISTER), write: prOutParams(0n, key) })).status).toBe(GOOD);
    const desired = a.scatter.control.desired;
    etcd.freeze();
    try {
      // Still the owner, until the lease can no longer be trusted.
      expect((await ia.command({ cdb: testUnitReady() })).status).toBe(GOOD);
      await waitUntil(() => a.scatter.cluster!.node.leaseState === 'fenced', 'node a fenced itself');
      const tur = await ia.command({ cdb: testUnitReady() });
      expect(senseCodes(tur.sense)).toEqual([0x06, 0x2a, 0x06]); // ASYMMETRIC ACCESS STATE CHANGED
      expect(senseCodes((await ia.command({ cdb: read10(0, 1), read: BLOCK })).sense)).toEqual([0x02, 0x04, 0x0c]); // unavailable
      const health = await fetch(`http://127.0.0.1:${a.scatter.adminPort}/healthz`);
      expect(await health.json()).toEqual({ status: 'ok', cluster: { nodeId: 'a', lease: 'fenced' } });
      const change = await AdminClient.of(a).request('PUT', `/v1/targets/${TEST_IQN}/luns/5`, {
        body: JSON.stringify({ backstore: { type: 'null', size: '64MiB' } }),
        headers: { 'content-type': 'application/json' },
      });
      expect(change.status, change.text).toBe(503);
      expect(String(change.json?.detail)).toMatch(/etcd/);
      expect(a.scatter.lunRegistry.get(TEST_IQN, 5)).toBeUndefined(); // undone
    } finally {
      etcd.thaw();
    }
    // Back: one of the nodes owns LUN 0 again, the config and the registration are what they were.
    const owner = await settled();
    expect(a.scatter.control.desired).toEqual(desired);
    const io = await session(owner, 'iqn.2026-11.io.scatter.test:second');
    await waitUntil(async () => (await io.command({ cdb: testUnitReady() })).status === GOOD, 'the owner serves');
    expect(parseReadKeys((await io.command({ cdb: prInCdb(IN.READ_KEYS), read: 4096 })).data).keys).toContain(key);
    // ia first hears of the state changes (unit attentions), then its key goes.
    await waitUntil(async () => (await ia.command({ cdb: prOutCdb(SA.REGISTER), write: prOutParams(key, 0n) })).status === GOOD, 'the registration is removed');
    ia.close();
    io.close();
  }, 60_000);

  it('a node that leaves hands its LUs to the other (the lease is revoked, no waiting for a TTL)', async () => {
    if ((await settled()) !== a) {
      const back = await AdminClient.of(b).request('POST', '/v1/cluster/drain', {
        body: JSON.stringify({ target: TEST_IQN, lun: 0, to: 'a' }),
        headers: { 'content-type': 'application/json' },
      });
      expect(back.status, back.text).toBe(200);
      await waitUntil(() => stateOn(a) === AO, 'a owns LUN 0');
    }
    const ib = await session(b);
    await a.stop();
    await waitUntil(() => stateOn(b) === AO, 'b owns LUN 0 after a left');
    const ua = await ib.command({ cdb: testUnitReady() });
    expect(senseCodes(ua.sense)).toEqual([0x06, 0x2a, 0x06]);
    expect((await ib.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    // a's group is still listed, as Unavailable.
    expect((await groups(ib)).states).toEqual([
      [1, AccessState.UNAVAILABLE, [1]],
      [2, AO, [2]],
    ]);
    ib.close();
  });
});

/** The value of the first VPD 83h designator of `type` (4h relative port, 5h port group): its last two bytes. */
function designator(page: Buffer, type: number): number | undefined {
  const end = 4 + page.readUInt16BE(2);
  for (let at = 4; at + 4 <= end; ) {
    const len = page[at + 3]!;
    if ((page[at + 1]! & 0x0f) === type) return page.readUInt16BE(at + 4 + len - 2);
    at += 4 + len;
  }
  return undefined;
}
