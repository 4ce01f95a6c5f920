import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { IN, parseReadKeys, parseReadReservation, prInCdb, prOutCdb, prOutParams, SA, TYPES, reserve6, release6, type ParamFlags } from '../helpers/pr.js';
import { startTestTarget, TEST_IQN, type TestTarget } from '../helpers/target.js';

const GOOD = 0x00;
const CHECK_CONDITION = 0x02;
const RESERVATION_CONFLICT = 0x18;
const TASK_ABORTED = 0x40;
const ATTR_ORDERED = 2;
const ATTR_HEAD_OF_QUEUE = 3;

/** Initiator ports: two hosts, and a second ISID of host A (a distinct I_T nexus of the same initiator). */
const PORTS = {
  a: { initiatorName: 'iqn.2026-11.io.example:host-a', isid: Buffer.from('80123456a001', 'hex') },
  a2: { initiatorName: 'iqn.2026-11.io.example:host-a', isid: Buffer.from('80123456a002', 'hex') },
  b: { initiatorName: 'iqn.2026-11.io.example:host-b', isid: Buffer.from('80123456b001', 'hex') },
} as const;

let dataDir: string;
let t: TestTarget;
const open: TestInitiator[] = [];

async function startTarget(): Promise<TestTarget> {
  return startTestTarget((raw) => {
    const target = (raw.targets as { luns: { backstore: { path?: string } }[] }[])[0]!;
    target.luns[0]!.backstore.path = join(dataDir, 'lun0.img');
  });
}

async function login(who: keyof typeof PORTS, keys: [string, string][] = []): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  open.push(i);
  const r = await i.login({ targetName: TEST_IQN, ...PORTS[who], keys });
  expect(r.status).toEqual([0, 0]);
  const tur = await i.command({ cdb: testUnitReady() });
  expect(senseCodes(tur.sense)).toEqual([0x06, 0x29, 0x00]);
  return i;
}

async function out(i: TestInitiator, sa: number, type: number, key: bigint, sark: bigint, f?: ParamFlags) {
  return i.command({ cdb: prOutCdb(sa, type), write: prOutParams(key, sark, f) });
}

async function readKeys(i: TestInitiator) {
  return parseReadKeys((await i.command({ cdb: prInCdb(IN.READ_KEYS), read: 4096 })).data);
}

async function readReservation(i: TestInitiator) {
  return parseReadReservation((await i.command({ cdb: prInCdb(IN.READ_RESERVATION), read: 4096 })).data);
}

async function ua(i: TestInitiator) {
  const r = await i.command({ cdb: testUnitReady() });
  return r.status === CHECK_CONDITION ? senseCodes(r.sense) : undefined;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'scatter-pr-it-'));
  t = await startTarget();
});

afterEach(async () => {
  // Leave the LU clean for the next test: CLEAR from a fresh registrant, then log everyone out.
  const sweeper = await login('b');
  await out(sweeper, SA.REGISTER_AND_IGNORE, 0, 0n, 0xfeedn);
  await out(sweeper, SA.CLEAR, 0, 0xfeedn, 0n);
  for (const i of open.splice(0)) i.close();
});

afterAll(async () => {
  await t.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('persistent reservations between initiators', () => {
  // [registered non-holder reads, writes; unregistered reads, writes]
  const matrix: [keyof typeof TYPES, boolean[]][] = [
    ['WE', [true, false, true, false]],
    ['EA', [false, false, false, false]],
    ['WE_RO', [true, true, true, false]],
    ['EA_RO', [true, true, false, false]],
    ['WE_AR', [true, true, true, false]],
    ['EA_AR', [true, true, false, false]],
  ];

  it.each(matrix)('%s: access of the holder, a registrant and a non-registrant (other ISID of the same host)', async (name, expected) => {
    const [a, a2, b] = [await login('a'), await login('a2'), await login('b')];
    expect((await out(a, SA.REGISTER, 0, 0n, 0xa1n)).status).toBe(GOOD);
    expect((await out(b, SA.REGISTER, 0, 0n, 0xb1n)).status).toBe(GOOD);
    expect((await out(a, SA.RESERVE, TYPES[name], 0xa1n, 0n)).status).toBe(GOOD);
    const res = await readReservation(b);
    expect(res).toMatchObject({ type: TYPES[name], key: name.endsWith('_AR') ? 0n : 0xa1n });

    const block = Buffer.alloc(512, 7);
    const attempt = async (i: TestInitiator, write: boolean) =>
      (write ? await i.command({ cdb: write10(10, 1), write: block }) : await i.command({ cdb: read10(10, 1), read: 512 })).status;
    const want = (ok: boolean | undefined) => (ok ? GOOD : RESERVATION_CONFLICT);
    expect([await attempt(a, false), await attempt(a, true)]).toEqual([GOOD, GOOD]);
    expect([await attempt(b, false), await attempt(b, true), await attempt(a2, false), await attempt(a2, true)]).toEqual(expected.map(want));
  });
});

describe('unit attentions to the other I_T nexuses', () => {
  it('PREEMPT: REGISTRATIONS PREEMPTED to the preempted, RESERVATIONS RELEASED to registrants when the type changes', async () => {
    const [a, a2, b] = [await login('a'), await login('a2'), await login('b')];
    await out(a, SA.REGISTER, 0, 0n, 0xa1n);
    await out(a2, SA.REGISTER, 0, 0n, 0xa2n);
    await out(b, SA.REGISTER, 0, 0n, 0xb1n);
    await out(a, SA.RESERVE, TYPES.WE, 0xa1n, 0n);
    expect((await out(b, SA.PREEMPT, TYPES.EA, 0xb1n, 0xa1n)).status).toBe(GOOD);
    expect(await ua(a)).toEqual([0x06, 0x2a, 0x05]);
    expect(await ua(a2)).toEqual([0x06, 0x2a, 0x04]);
    expect(await ua(b)).toBeUndefined();
    expect((await readKeys(b)).keys.sort((x, y) => (x < y ? -1 : 1))).toEqual([0xa2n, 0xb1n]);
  });

  it('CLEAR: RESERVATIONS PREEMPTED; RELEASE of a registrants-only type: RESERVATIONS RELEASED', async () => {
    const [a, b] = [await login('a'), await login('b')];
    await out(a, SA.REGISTER, 0, 0n, 0xa1n);
    await out(b, SA.REGISTER, 0, 0n, 0xb1n);
    await out(a, SA.RESERVE, TYPES.EA_RO, 0xa1n, 0n);
    await out(a, SA.RELEASE, TYPES.EA_RO, 0xa1n, 0n);
    expect(await ua(b)).toEqual([0x06, 0x2a, 0x04]);
    await out(a, SA.RESERVE, TYPES.EA, 0xa1n, 0n);
    expect((await out(b, SA.CLEAR, 0, 0xb1n, 0n)).status).toBe(GOOD);
    expect(await ua(a)).toEqual([0x06, 0x2a, 0x03]);
    expect(await readKeys(a)).toMatchObject({ keys: [] });
  });
});

describe('PREEMPT AND ABORT', () => {
  it("aborts the preempted nexus's queued tasks and takes the reservation", async () => {
    // No immediate data: a write waits for an R2T answer that we hold back.
    const a = await login('a', [['ImmediateData', 'No'], ['InitialR2T', 'Yes']]);
    const b = await login('b');
    await out(a, SA.REGISTER, 0, 0n, 0xa1n);
    await out(b, SA.REGISTER, 0, 0n, 0xb1n);
    await out(a, SA.RESERVE, TYPES.EA, 0xa1n, 0n);
    // A write waiting for its data, and an ORDERED command queued behind it.
    void a.command({ cdb: write10(0, 1), write: Buffer.alloc(512), holdData: true }).catch(() => undefined);
    const heldItt = a.allocItt() - 1;
    const ordered = a.command({ cdb: read10(0, 1), read: 512, attr: ATTR_ORDERED });
    // The write holds its R2T; the NOP-Out after the ORDERED read is answered once the read is taken in.
    await a.r2tFor(heldItt);
    await a.nop();
    const preempt = await b.command({ cdb: prOutCdb(SA.PREEMPT_AND_ABORT, TYPES.WE, 24), write: prOutParams(0xb1n, 0xa1n), attr: ATTR_HEAD_OF_QUEUE });
    expect(preempt.status).toBe(GOOD);
    expect((await ordered).status).toBe(TASK_ABORTED);
    expect(await ua(a)).toEqual([0x06, 0x2a, 0x05]);
    expect(await readReservation(b)).toMatchObject({ key: 0xb1n, type: TYPES.WE });
    expect((await a.command({ cdb: write10(0, 1), write: Buffer.alloc(512) })).status).toBe(RESERVATION_CONFLICT);
  });
});

describe('RESERVE / RELEASE between initiators', () => {
  it('holds the LU for one nexus until it releases it or logs out', async () => {
    const [a, b] = [await login('a'), await login('b')];
    expect((await a.command({ cdb: reserve6() })).status).toBe(GOOD);
    expect((await b.command({ cdb: reserve6() })).status).toBe(RESERVATION_CONFLICT);
    expect((await b.command({ cdb: read10(0, 1), read: 512 })).status).toBe(RESERVATION_CONFLICT);
    expect((await a.command({ cdb: release6() })).status).toBe(GOOD);
    expect((await b.command({ cdb: reserve6() })).status).toBe(GOOD);
    await b.logout();
    expect((await a.command({ cdb: reserve6() })).status).toBe(GOOD);
    expect((await a.command({ cdb: release6() })).status).toBe(GOOD);
  });
});

describe('APTPL', () => {
  it('registrations and the reservation survive a target restart, stored next to the backing file', async () => {
    const [a, b] = [await login('a'), await login('b')];
    await out(a, SA.REGISTER, 0, 0n, 0xa1n, { aptpl: true });
    await out(b, SA.REGISTER, 0, 0n, 0xb1n, { aptpl: true });
    await out(a, SA.RESERVE, TYPES.WE_RO, 0xa1n, 0n);
    const file = join(dataDir, 'pr', `${TEST_IQN}-0.json`);
    expect(existsSync(file)).toBe(true);
    const { generation } = await readKeys(b);
    for (const i of open.splice(0)) i.close();
    await t.stop();

    t = await startTarget();
    const [a2, b2] = [await login('a'), await login('b')];
    expect(await readReservation(b2)).toEqual({ generation, key: 0xa1n, type: TYPES.WE_RO });
    const caps = (await b2.command({ cdb: prInCdb(IN.REPORT_CAPABILITIES), read: 8 })).data;
    expect(caps[3]! & 0x01).toBe(1); // PTPL_A
    const c = await login('a2');
    expect((await c.command({ cdb: write10(0, 1), write: Buffer.alloc(512) })).status).toBe(RESERVATION_CONFLICT);
    expect((await b2.command({ cdb: write10(0, 1), write: Buffer.alloc(512) })).status).toBe(GOOD);
    expect((await a2.command({ cdb: write10(0, 1), write: Buffer.alloc(512) })).status).toBe(GOOD);
    expect((await readKeys(a2)).keys.sort((x, y) => (x < y ? -1 : 1))).toEqual([0xa1n, 0xb1n]);
  });
});
