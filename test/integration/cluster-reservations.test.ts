/**
 * Persistent reservations across nodes (docs/cluster.md) against a real etcd: two (or three)
 * "nodes", each a ScsiTargetCore with its own LogicalUnit over one shared device, its own etcd
 * client and its own EtcdReservationStore, and its own target port (TPGT = relative target port id,
 * as in cluster mode). Every test uses its own LUN, so its own etcd key.
 */
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdReservationStore, type EtcdReservationStore } from '../../src/cluster/etcd-reservations.js';
import { ClusterKeys } from '../../src/cluster/keys.js';
import { ScsiStatus, type Nexus } from '../../src/scsi/command.js';
import type { LogicalUnit } from '../../src/scsi/logical-unit.js';
import { ScsiTargetCore } from '../../src/scsi/target-core.js';
import { missingEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { MemDevice } from '../helpers/mem-device.js';
import { IN, parseReadKeys, parseReadReservation, prInCdb, prOutCdb, prOutParams, release6, reserve6, SA, TYPES } from '../helpers/pr.js';
import { waitUntil, within } from '../helpers/wait.js';
import { cdb10, dataOf, gate, makeLu, run, send, sense, settle, TARGET } from '../unit/scsi/fixture.js';

const missing = missingEtcd();
const { GOOD, RESERVATION_CONFLICT, CHECK_CONDITION, TASK_ABORTED } = ScsiStatus;
const TUR = [0, 0, 0, 0, 0, 0];
const WRITE10 = 0x2a;
const K1 = 0x1111n;
const K2 = 0x2222n;
const K3 = 0x3333n;
const TIMEOUT_MS = 1000;

interface Node {
  name: string;
  core: ScsiTargetCore;
  lu: LogicalUnit;
  store: EtcdReservationStore;
  client: Etcd3;
  /** An I_T nexus of initiator `host` through this node's target port, power-on UA consumed. */
  nexus(host: string): Promise<Nexus>;
}

describe.skipIf(missing.length > 0)('persistent reservations across nodes, in etcd', () => {
  let etcd: TestEtcd;
  const keys = new ClusterKeys('test');
  const dev = new MemDevice(256);
  const nodes: Node[] = [];
  let nextLun = 1;
  let nextNexusId = 1;

  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterEach(async () => {
    etcd?.thaw();
    for (const n of nodes.splice(0)) {
      await n.store.close();
      n.client.close();
    }
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  async function node(name: string, tpgt: number, lun: number): Promise<Node> {
    const client = new Etcd3({ hosts: etcd.endpoint, dialTimeout: 2000 });
    const store = await createEtcdReservationStore({ client, keys, lu: { iqn: TARGET, lun }, nodeId: name, timeoutMs: TIMEOUT_MS });
    const lu = makeLu(dev, { lun, reservationStore: store });
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
    const targetPort = `${TARGET},t,0x${tpgt.toString(16).padStart(4, '0')}`;
    const n: Node = {
      name,
      core,
      lu,
      store,
      client,
      async nexus(host) {
        const nexus: Nexus = { id: nextNexusId++, initiatorPort: `iqn.2026-01.io.example:${host},i,0x00023d000001`, targetPort, relativeTargetPortId: tpgt };
        core.addNexus(nexus);
        await run(core, TUR, { lun, nexus });
        return nexus;
      },
    };
    nodes.push(n);
    return n;
  }

  /** Nodes A (TPGT 1) and B (TPGT 2) exporting a LUN of their own. */
  async function twoNodes(): Promise<[Node, Node, number]> {
    const lun = nextLun++;
    return [await node('a', 1, lun), await node('b', 2, lun), lun];
  }

  const on = (n: Node) => ({
    prOut: (nexus: Nexus, sa: number, type: number, key: bigint, sark: bigint) =>
      run(n.core, prOutCdb(sa, type, 24), { lun: n.lu.lun, nexus, data: prOutParams(key, sark) }),
    readKeys: async (nexus: Nexus) => parseReadKeys(dataOf(await run(n.core, prInCdb(IN.READ_KEYS), { lun: n.lu.lun, nexus }))),
    readReservation: async (nexus: Nexus) => parseReadReservation(dataOf(await run(n.core, prInCdb(IN.READ_RESERVATION), { lun: n.lu.lun, nexus }))),
    write: (nexus: Nexus, lba = 0) => run(n.core, cdb10(WRITE10, lba, 1), { lun: n.lu.lun, nexus, data: Buffer.alloc(512) }),
    tur: (nexus: Nexus) => run(n.core, TUR, { lun: n.lu.lun, nexus }),
  });

  it('REGISTER and RESERVE through A: B reads the same keys and reservation and enforces it', async () => {
    const [A, B] = await twoNodes();
    const a = await A.nexus('host1');
    const b = await B.nexus('host2');
    const c = await B.nexus('host3');
    expect((await on(A).prOut(a, SA.REGISTER, 0, 0n, K1)).status).toBe(GOOD);
    expect((await on(B).prOut(b, SA.REGISTER, 0, 0n, K2)).status).toBe(GOOD);
    expect((await on(A).prOut(a, SA.RESERVE, TYPES.WE_RO, K1, 0n)).status).toBe(GOOD);
    // B answers from the newest state at once (PR IN catches up with etcd before answering).
    expect(await on(B).readKeys(b)).toEqual({ generation: 2, keys: [K1, K2] });
    expect(await on(B).readReservation(c)).toEqual({ generation: 2, key: K1, type: TYPES.WE_RO });
    expect(await on(A).readKeys(a)).toEqual({ generation: 2, keys: [K1, K2] });
    // Registrants only: b (registered through B) writes, c (not registered) conflicts.
    expect((await on(B).write(b)).status).toBe(GOOD);
    expect((await on(B).write(c)).status).toBe(RESERVATION_CONFLICT);
    expect((await on(A).write(a)).status).toBe(GOOD);
    // READ FULL STATUS through B names both registrations with their own relative port ids.
    const full = dataOf(await run(B.core, prInCdb(IN.READ_FULL_STATUS), { lun: B.lu.lun, nexus: c }));
    expect(full.readUInt32BE(0)).toBe(2);
    const first = full.subarray(8);
    expect(first.readBigUInt64BE(0)).toBe(K1);
    expect(first[12]).toBe(0x01); // R_HOLDER
    expect(first.readUInt16BE(18)).toBe(1);
  });

  it('PREEMPT through B gives the preempted nexus on A its unit attention, and shuts it out', async () => {
    const [A, B] = await twoNodes();
    const a = await A.nexus('host1');
    const b = await B.nexus('host2');
    await on(A).prOut(a, SA.REGISTER, 0, 0n, K1);
    await on(B).prOut(b, SA.REGISTER, 0, 0n, K2);
    expect((await on(A).prOut(a, SA.RESERVE, TYPES.WE, K1, 0n)).status).toBe(GOOD);
    expect((await on(B).prOut(b, SA.PREEMPT, TYPES.EA, K2, K1)).status).toBe(GOOD);
    // A learns it through its watch: REGISTRATIONS PREEMPTED for a.
    await waitUntil(() => A.lu.unitAttentions.hasPending(a.id), 'the unit attention reaches node A');
    const ua = await on(A).tur(a);
    expect(ua.status).toBe(CHECK_CONDITION);
    expect(sense(ua)).toMatchObject({ key: 0x6, asc: 0x2a, ascq: 0x05 });
    expect(await on(A).readReservation(a)).toEqual({ generation: 3, key: K2, type: TYPES.EA });
    expect((await on(A).write(a)).status).toBe(RESERVATION_CONFLICT);
    // The issuer gets none.
    expect((await on(B).tur(b)).status).toBe(GOOD);
  });

  it("PREEMPT AND ABORT through B aborts the preempted nexus's tasks on A", async () => {
    const [A, B] = await twoNodes();
    const a = await A.nexus('host1');
    const b = await B.nexus('host2');
    await on(A).prOut(a, SA.REGISTER, 0, 0n, K1);
    await on(B).prOut(b, SA.REGISTER, 0, 0n, K2);
    await on(A).prOut(a, SA.RESERVE, TYPES.WE, K1, 0n);
    const g = gate();
    dev.beforeIo = () => g.promise;
    try {
      const inIo = send(A.core, cdb10(WRITE10, 0, 1), { lun: A.lu.lun, nexus: a, data: Buffer.alloc(512) });
      const queued = send(A.core, cdb10(WRITE10, 1, 1), { lun: A.lu.lun, nexus: a, data: Buffer.alloc(512), attr: 'ordered' });
      await settle();
      expect((await on(B).prOut(b, SA.PREEMPT_AND_ABORT, TYPES.EA, K2, K1)).status).toBe(GOOD);
      // A's watch brings the change: the queued task ends at once, the one in I/O when its I/O settles.
      expect((await within(queued.response, 5000, "the queued task's abort on A")).status).toBe(TASK_ABORTED);
      g.open();
      expect((await inIo.response).status).toBe(TASK_ABORTED);
    } finally {
      dev.beforeIo = undefined;
      g.open();
    }
    expect(sense(await on(A).tur(a))).toMatchObject({ key: 0x6, asc: 0x2a, ascq: 0x05 });
    expect(await on(A).readReservation(a)).toMatchObject({ key: K2, type: TYPES.EA });
    expect((await on(A).write(a)).status).toBe(RESERVATION_CONFLICT);
  });

  it('concurrent PR OUT through both nodes serialize: the generation grows by exactly the changes made', async () => {
    const [A, B] = await twoNodes();
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5'];
    const onA = await Promise.all(hosts.map((h) => A.nexus(h)));
    const onB = await Promise.all(hosts.map((h) => B.nexus(h)));
    const before = (await on(A).readKeys(onA[0]!)).generation;
    const results = await Promise.all([
      ...onA.map((n, i) => on(A).prOut(n, SA.REGISTER_AND_IGNORE, 0, 0n, 0xa0n + BigInt(i))),
      ...onB.map((n, i) => on(B).prOut(n, SA.REGISTER_AND_IGNORE, 0, 0n, 0xb0n + BigInt(i))),
    ]);
    expect(results.map((r) => r.status)).toEqual(results.map(() => GOOD));
    const seenByB = await on(B).readKeys(onB[0]!);
    expect(seenByB.generation).toBe(before + 10);
    expect([...seenByB.keys].sort()).toEqual([...[0, 1, 2, 3, 4].map((i) => 0xa0n + BigInt(i)), ...[0, 1, 2, 3, 4].map((i) => 0xb0n + BigInt(i))].sort());
    expect(await on(A).readKeys(onA[0]!)).toEqual(seenByB);
    // Two RESERVEs racing from both nodes: exactly one holds, the other conflicts.
    const [ra, rb] = await Promise.all([on(A).prOut(onA[0]!, SA.RESERVE, TYPES.WE, 0xa0n, 0n), on(B).prOut(onB[0]!, SA.RESERVE, TYPES.WE, 0xb0n, 0n)]);
    expect([ra.status, rb.status].sort()).toEqual([GOOD, RESERVATION_CONFLICT].sort());
    const holder = ra.status === GOOD ? 0xa0n : 0xb0n;
    expect(await on(B).readReservation(onB[1]!)).toMatchObject({ key: holder, type: TYPES.WE });
  });

  it('RESERVE(6) through A conflicts for B until A releases it', async () => {
    const [A, B, lun] = await twoNodes();
    const a = await A.nexus('host1');
    const b = await B.nexus('host2');
    expect((await run(A.core, reserve6(), { lun, nexus: a })).status).toBe(GOOD);
    // RESERVE through B waits for nothing local: its compare-and-swap sees A's reservation.
    expect((await run(B.core, reserve6(), { lun, nexus: b })).status).toBe(RESERVATION_CONFLICT);
    expect((await on(B).write(b)).status).toBe(RESERVATION_CONFLICT);
    expect((await on(A).write(a)).status).toBe(GOOD);
    expect((await run(A.core, release6(), { lun, nexus: a })).status).toBe(GOOD);
    await waitUntil(() => !B.lu.reservations.legacyReserved, 'the release reaches node B');
    expect((await on(B).write(b)).status).toBe(GOOD);
    expect((await run(B.core, reserve6(), { lun, nexus: b })).status).toBe(GOOD);
    await waitUntil(() => A.lu.reservations.legacyReserved, 'the reservation reaches node A');
    expect((await on(A).write(a)).status).toBe(RESERVATION_CONFLICT);
  });

  it("survives the node it was made through: A's store closed, B and a new node C still see and enforce it", async () => {
    const [A, B, lun] = await twoNodes();
    const a = await A.nexus('host1');
    await on(A).prOut(a, SA.REGISTER, 0, 0n, K1);
    await on(A).prOut(a, SA.RESERVE, TYPES.EA, K1, 0n);
    await A.store.close();
    A.client.close();
    const b = await B.nexus('host2');
    expect(await on(B).readReservation(b)).toEqual({ generation: 1, key: K1, type: TYPES.EA });
    expect((await on(B).write(b)).status).toBe(RESERVATION_CONFLICT);
    const C = await node('c', 3, lun);
    const c = await C.nexus('host3');
    // Read before the LU was built: enforced from the first command on.
    expect((await on(C).write(c)).status).toBe(RESERVATION_CONFLICT);
    expect(await on(C).readKeys(c)).toEqual({ generation: 1, keys: [K1] });
    // host1 through C is another I_T nexus: not registered, so it may not take over.
    const a2 = await C.nexus('host1');
    expect((await on(C).prOut(a2, SA.RESERVE, TYPES.EA, K1, 0n)).status).toBe(RESERVATION_CONFLICT);
    expect((await on(C).prOut(a2, SA.REGISTER, 0, 0n, K3)).status).toBe(GOOD);
    expect((await on(C).prOut(a2, SA.PREEMPT, TYPES.EA, K3, K1)).status).toBe(GOOD);
    expect(await on(B).readReservation(b)).toEqual({ generation: 3, key: K3, type: TYPES.EA });
  });

  it('with etcd frozen PR OUT and PR IN fail with ABORTED COMMAND within the timeout; after the thaw they work', async () => {
    const [A, B] = await twoNodes();
    const a = await A.nexus('host1');
    const b = await B.nexus('host2');
    expect((await on(A).prOut(a, SA.REGISTER, 0, 0n, K1)).status).toBe(GOOD);
    etcd.freeze();
    const started = performance.now();
    const failed = await within(on(A).prOut(a, SA.REGISTER_AND_IGNORE, 0, 0n, K2), TIMEOUT_MS + 1000, 'PR OUT against a frozen etcd');
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 500);
    expect(failed.status).toBe(CHECK_CONDITION);
    expect(sense(failed)).toMatchObject({ key: 0xb, asc: 0x08, ascq: 0x01 });
    const read = await within(run(B.core, prInCdb(IN.READ_KEYS), { lun: B.lu.lun, nexus: b }), TIMEOUT_MS + 1000, 'PR IN against a frozen etcd');
    expect(sense(read)).toMatchObject({ key: 0xb, asc: 0x08, ascq: 0x01 });
    // Nothing of the failed change is in force here meanwhile.
    expect(A.lu.reservations.registrations().map((r) => r.key)).toEqual([K1]);
    etcd.thaw();
    // The failed write may still land once etcd answers (gRPC had sent it): both outcomes are fine, the
    // next change must simply work.
    await waitUntil(async () => (await on(A).prOut(a, SA.REGISTER_AND_IGNORE, 0, 0n, K3)).status === GOOD, 'PR OUT works again after the thaw', {
      timeoutMs: 20_000,
      pollMs: 100,
    });
    expect(await on(B).readKeys(b)).toMatchObject({ keys: [K3] });
  });
});
