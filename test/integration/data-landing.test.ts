/**
 * Large writes to an O_DIRECT LU, end to end over a real socket: their immediate data and Data-Out
 * are read from the socket straight into aligned landing pages (owned-reads.ts, framer.ts,
 * data-landing.ts), so nothing is bounced, the bytes on the device are exact, and every page goes
 * back: after a normal write, after a LUN RESET in the middle of a payload being read into the
 * pages (they stay out of the pool until that read is over), and after the connection drops there.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/iscsi/connection.js';
import { landingPagesInUse } from '../../src/iscsi/data-landing.js';
import { receiveSlabStats } from '../../src/iscsi/owned-reads.js';
import { Op } from '../../src/iscsi/opcodes.js';
import { opcodeOf } from '../../src/iscsi/pdu.js';
import { read10, testUnitReady, write10 } from '../helpers/cdb.js';
import { fileBytes } from '../helpers/file-bytes.js';
import { TestInitiator } from '../helpers/initiator.js';
import * as P from '../helpers/initiator-pdus.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { waitUntil } from '../helpers/wait.js';

const GOOD = 0;
const BLOCK = 512;
const MiB = 1024 * 1024;
const TMF_LOGICAL_UNIT_RESET = 5;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw, dir) => {
    (raw.targets as { luns: unknown[] }[])[0]!.luns = [
      { lun: 0, backstore: { type: 'file', path: join(dir, 'direct.img'), size: '32MiB', direct: true } },
      { lun: 1, backstore: { type: 'file', path: join(dir, 'buffered.img'), size: '32MiB' } },
    ];
  });
});
afterAll(() => t?.stop());

function onDisk(offset: number, length: number, file = 'direct.img'): Buffer {
  return fileBytes(join(t.dir, file), offset, length);
}

function blockStats(): { directBytes: number; bouncedBytes: number } {
  return t.scatter.lunRegistry.get(TEST_IQN, 0)!.queue!.stats;
}

async function session(keys: [string, string][], digests = false, isid?: Buffer): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  expect((await i.login({ targetName: TEST_IQN, keys, headerDigest: digests, dataDigest: digests, isid })).status).toEqual([0, 0]);
  await i.command({ cdb: testUnitReady() }); // the power-on unit attention
  return i;
}

const IMMEDIATE: [string, string][] = [
  ['ImmediateData', 'Yes'],
  ['InitialR2T', 'No'],
  ['FirstBurstLength', String(256 * 1024)],
  ['MaxBurstLength', String(MiB)],
];
const SOLICITED_ONLY: [string, string][] = [
  ['ImmediateData', 'No'],
  ['InitialR2T', 'Yes'],
  ['MaxBurstLength', String(256 * 1024)],
];

describe('large writes to an O_DIRECT LU land in aligned pages', () => {
  it.each([
    ['immediate data, unsolicited and solicited Data-Out', IMMEDIATE, false],
    ['solicited Data-Out only', SOLICITED_ONLY, false],
    ['header and data digests', IMMEDIATE, true],
  ])('%s: byte-exact on the device, nothing bounced, every page back', async (_name, keys, digests) => {
    const i = await session(keys, digests);
    const before = { ...blockStats() };
    const payloads = [randomBytes(MiB), randomBytes(MiB), randomBytes(512 * 1024), randomBytes(96 * 1024)];
    const lbas = [0, 2048, 4096, 6144];
    const results = await Promise.all(payloads.map((p, k) => i.command({ cdb: write10(lbas[k]!, p.length / BLOCK), write: p })));
    expect(results.map((r) => r.status)).toEqual(payloads.map(() => GOOD));
    const total = payloads.reduce((n, p) => n + p.length, 0);
    expect(blockStats().bouncedBytes - before.bouncedBytes).toBe(0);
    expect(blockStats().directBytes - before.directBytes).toBe(total);
    for (let k = 0; k < payloads.length; k++) expect(onDisk(lbas[k]! * BLOCK, payloads[k]!.length).equals(payloads[k]!)).toBe(true);
    expect(landingPagesInUse()).toBe(0);
    const back = await i.command({ cdb: read10(0, MiB / BLOCK), read: MiB });
    expect(back.data.equals(payloads[0]!)).toBe(true);
    await i.logout();
  });

  it('a LUN RESET from another session while a payload is being read into the pages: they go back only once that read is over, and nothing is written', async () => {
    const i = await session(SOLICITED_ONLY);
    const other = await session([], false, Buffer.from('400000000002', 'hex')); // its own I_T nexus
    const lba = 10_000;
    const old = onDisk(lba * BLOCK, 256 * 1024);
    const held = i.command({ cdb: write10(lba, 512), write: randomBytes(256 * 1024), holdData: true }).catch(() => undefined);
    const r2t = await i.arrival((b) => opcodeOf(b) === Op.R2T);
    const length = r2t.readUInt32BE(44);
    expect(landingPagesInUse()).toBe(length / (64 * 1024));
    // The Data-Out's header and the first 1000 bytes of its payload: the rest is to be read into the pages.
    const payload = randomBytes(length);
    i.sendRaw(
      P.dataOut({ final: true, lun: 0, itt: r2t.readUInt32BE(16), ttt: r2t.readUInt32BE(20), expStatSN: i.expStatSN, dataSN: 0, bufferOffset: 0, dataLength: length }),
    );
    i.sendRaw(payload.subarray(0, 1000));
    const conn = t.scatter.iscsi.sessions.get(i.tsih)!.conn as Connection;
    await waitUntil(() => conn.framer.readTarget()?.length === 64 * 1024 - 1000, 'the target reads the payload into the pages');
    // This session's stream is in the middle of a PDU, so the reset comes from another one.
    expect(await other.tmf(TMF_LOGICAL_UNIT_RESET)).toBe(0);
    // The task is gone, but a read into its pages is still under way: they must not be reused yet.
    expect(t.scatter.iscsi.sessions.get(i.tsih)!.tasks.size).toBe(0);
    expect(landingPagesInUse()).toBe(length / (64 * 1024));
    i.sendRaw(payload.subarray(1000));
    await i.nop(); // everything before it has been framed
    expect(landingPagesInUse()).toBe(0);
    expect(onDisk(lba * BLOCK, 256 * 1024).equals(old)).toBe(true);
    // The session goes on (after the reset's unit attention), and the pages serve the next write.
    await i.command({ cdb: testUnitReady() });
    const next = randomBytes(256 * 1024);
    expect((await i.command({ cdb: write10(lba, 512), write: next })).status).toBe(GOOD);
    expect(onDisk(lba * BLOCK, next.length).equals(next)).toBe(true);
    expect(landingPagesInUse()).toBe(0);
    i.close();
    other.close();
    await held;
  });

  it('the connection dropping in the middle of a landing payload gives every page back', async () => {
    const i = await session(SOLICITED_ONLY);
    const held = i.command({ cdb: write10(20_000, 512), write: randomBytes(256 * 1024), holdData: true }).catch(() => undefined);
    const r2t = await i.arrival((b) => opcodeOf(b) === Op.R2T);
    const length = r2t.readUInt32BE(44);
    i.sendRaw(
      P.dataOut({ final: true, lun: 0, itt: r2t.readUInt32BE(16), ttt: r2t.readUInt32BE(20), expStatSN: i.expStatSN, dataSN: 0, bufferOffset: 0, dataLength: length }),
    );
    i.sendRaw(randomBytes(length / 2));
    expect(landingPagesInUse()).toBeGreaterThan(0);
    i.close();
    await held;
    await waitUntil(() => t.scatter.iscsi.sessions.size === 0, 'the session ends');
    expect(landingPagesInUse()).toBe(0);
  });
});

describe('large writes to a buffered LU land in the same recycled pages', () => {
  it('the Data-Out is read into landing pages (not fresh receive buffers), the bytes on the file are exact, and the pages go back', async () => {
    const i = await session(SOLICITED_ONLY);
    await i.command({ lun: 1, cdb: testUnitReady() }); // this LU's power-on unit attention
    const lba = 30_000;
    const payload = randomBytes(256 * 1024);
    const held = i.command({ lun: 1, cdb: write10(lba, payload.length / BLOCK), write: payload, holdData: true });
    const r2t = await i.arrival((b) => opcodeOf(b) === Op.R2T);
    const length = r2t.readUInt32BE(44);
    expect(length).toBe(payload.length);
    expect(landingPagesInUse()).toBe(length / (64 * 1024));
    i.sendRaw(
      P.dataOut({ final: true, lun: 1, itt: r2t.readUInt32BE(16), ttt: r2t.readUInt32BE(20), expStatSN: i.expStatSN, dataSN: 0, bufferOffset: 0, dataLength: length }),
    );
    i.sendRaw(payload);
    expect((await held).status).toBe(GOOD);
    expect(onDisk(lba * BLOCK, payload.length, 'buffered.img').equals(payload)).toBe(true);
    expect(landingPagesInUse()).toBe(0);
    const back = await i.command({ lun: 1, cdb: read10(lba, payload.length / BLOCK), read: payload.length });
    expect(back.data.equals(payload)).toBe(true);
    await i.logout();
  });
});

describe('small writes to a buffered LU: receive memory is reused, not collected', () => {
  it.each([
    ['immediate data', IMMEDIATE, false],
    ['solicited Data-Out', SOLICITED_ONLY, false],
    ['header and data digests', IMMEDIATE, true],
  ])('%s: thousands of 4 KiB writes through one receive slab, byte-exact on the file, every page back', async (_name, keys, digests) => {
    const i = await session(keys, digests);
    await i.command({ lun: 1, cdb: testUnitReady() }); // LU 1's power-on unit attention
    const before = receiveSlabStats();
    const writes = 3000;
    const payloads = Array.from({ length: writes }, () => randomBytes(4096));
    // 32 at a time, as a deep queue would; each write its own 4 KiB block.
    for (let k = 0; k < writes; k += 32) {
      const batch = payloads.slice(k, k + 32).map((p, j) => i.command({ lun: 1, cdb: write10((k + j) * 8, 8), write: p }));
      expect((await Promise.all(batch)).every((r) => r.status === GOOD)).toBe(true);
    }
    const after = receiveSlabStats();
    // ~12 MB received: without reuse that is ~130 fresh 128 KiB slabs.
    expect(after.allocated - before.allocated).toBeLessThanOrEqual(2);
    expect(after.recycled - before.recycled).toBeGreaterThan(50);
    await waitUntil(() => landingPagesInUse() === 0, 'every landing page back');
    for (let k = 0; k < writes; k += 97) expect(onDisk(k * 4096, 4096, 'buffered.img').equals(payloads[k]!)).toBe(true);
    const back = await i.command({ lun: 1, cdb: read10(0, 8 * 64), read: 64 * 4096 });
    expect(back.data.equals(Buffer.concat(payloads.slice(0, 64)))).toBe(true);
    await i.logout();
  });
});
