/**
 * LUNs resized, added and removed while two sessions are logged in, over real sockets: each
 * session sees the unit attention once, then the new capacity / inventory.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { Op } from '../../src/iscsi/opcodes.js';
import { opcodeOf } from '../../src/iscsi/pdu.js';
import { TestInitiator } from '../helpers/initiator.js';
import * as P from '../helpers/initiator-pdus.js';
import { read10, read16, readCapacity16, reportLuns, senseCodes, testUnitReady, write10, write16 } from '../helpers/cdb.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { within } from '../helpers/wait.js';

const GOOD = 0;
const CHECK_CONDITION = 2;
const TASK_ABORTED = 0x40;
const ATTR_ORDERED = 2;
const MiB = 1024 * 1024;
const CAPACITY_CHANGED = [0x06, 0x2a, 0x09];
const LUNS_CHANGED = [0x06, 0x3f, 0x0e];
const NOT_SUPPORTED = [0x05, 0x25, 0x00];

let t: TestTarget | undefined;
const sessions: TestInitiator[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  await t?.stop();
  t = undefined;
});

/** A logged-in session whose power-on unit attentions on `luns` are consumed. */
async function session(name: string, luns: number[], keys: [string, string][] = []): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t!.port);
  sessions.push(i);
  const r = await i.login({ targetName: TEST_IQN, initiatorName: `iqn.2026-11.io.scatter.test:${name}`, keys });
  expect(r.status).toEqual([0, 0]);
  for (const lun of luns) expect(senseCodes((await i.command({ lun, cdb: testUnitReady() })).sense)).toEqual([0x06, 0x29, 0x00]);
  return i;
}

async function capacity(i: TestInitiator, lun = 0): Promise<{ lastLba: bigint; blockSize: number }> {
  const r = await i.command({ lun, cdb: readCapacity16(), read: 32 });
  expect(r.status).toBe(GOOD);
  return { lastLba: r.data.readBigUInt64BE(0), blockSize: r.data.readUInt32BE(8) };
}

async function lunList(i: TestInitiator): Promise<number[]> {
  const r = await i.command({ cdb: reportLuns(), read: 4096 });
  expect(r.status).toBe(GOOD);
  const out: number[] = [];
  for (let p = 8; p < 8 + r.data.readUInt32BE(0); p += 8) out.push(r.data.readUInt16BE(p) & 0x3fff);
  return out;
}

/** The next command's unit attention, then that it is gone. */
async function expectUaOnce(i: TestInitiator, lun: number, codes: number[]): Promise<void> {
  const first = await i.command({ lun, cdb: testUnitReady() });
  expect(first.status).toBe(CHECK_CONDITION);
  expect(senseCodes(first.sense)).toEqual(codes);
  expect((await i.command({ lun, cdb: testUnitReady() })).status).toBe(GOOD);
}

describe('online resize of a file LUN', () => {
  it('grows: each session gets CAPACITY DATA HAS CHANGED once, then the new size; new blocks read zeros and are writable', async () => {
    t = await startTestTarget();
    const [a, b] = [await session('a', [0, 1]), await session('b', [0, 1])];
    expect(await capacity(a)).toEqual({ lastLba: BigInt(64 * 2048 - 1), blockSize: 512 });
    const old = randomBytes(4096);
    expect((await a.command({ cdb: write10(100, 8), write: old })).status).toBe(GOOD);

    expect(await t.scatter.luns.resize(TEST_IQN, 0, { size: 256 * MiB })).toEqual({ oldSize: 64 * MiB, newSize: 256 * MiB });
    const file = await stat(join(t.dir, 'lun0.img'));
    expect(file.size).toBe(256 * MiB);
    expect(file.blocks * 512).toBeLessThan(MiB); // still sparse

    for (const i of [a, b]) {
      await expectUaOnce(i, 0, CAPACITY_CHANGED);
      expect((await i.command({ lun: 1, cdb: testUnitReady() })).status).toBe(GOOD); // not the other LUN
      expect(await capacity(i)).toEqual({ lastLba: BigInt(256 * 2048 - 1), blockSize: 512 });
    }
    const lastLba = 256 * 2048 - 8;
    const zeros = await b.command({ cdb: read16(lastLba, 8), read: 4096 });
    expect(zeros.status).toBe(GOOD);
    expect(zeros.data.equals(Buffer.alloc(4096))).toBe(true);
    const fresh = randomBytes(4096);
    expect((await a.command({ cdb: write16(lastLba, 8), write: fresh })).status).toBe(GOOD);
    expect((await b.command({ cdb: read16(lastLba, 8), read: 4096 })).data.equals(fresh)).toBe(true);
    expect((await b.command({ cdb: read10(100, 8), read: 4096 })).data.equals(old)).toBe(true);
  });

  it('refuses a shrink: nothing changes and no unit attention is raised', async () => {
    t = await startTestTarget();
    const a = await session('a', [0]);
    await expect(t.scatter.luns.resize(TEST_IQN, 0, { size: 32 * MiB })).rejects.toThrow(/would lose the data past the new end/);
    expect((await a.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    expect(await capacity(a)).toEqual({ lastLba: BigInt(64 * 2048 - 1), blockSize: 512 });
    expect((await stat(join(t.dir, 'lun0.img'))).size).toBe(64 * MiB);
  });
});

describe('LUNs added and removed at runtime', () => {
  it('an added LUN: REPORTED LUNS DATA HAS CHANGED on the others, REPORT LUNS lists it, it serves I/O', async () => {
    t = await startTestTarget();
    const [a, b] = [await session('a', [0, 1]), await session('b', [0, 1])];
    const next = validateConfig(
      {
        targets: [{ iqn: TEST_IQN, luns: [{ lun: 5, backstore: { type: 'file', path: join(t.dir, 'lun5.img'), size: '8MiB' } }] }],
      },
      'test',
    );
    await t.scatter.luns.add(next.targets[0]!, next.targets[0]!.luns[0]!);
    for (const i of [a, b]) {
      expect(await lunList(i)).toEqual([0, 1, 5]);
      await expectUaOnce(i, 0, LUNS_CHANGED);
      await expectUaOnce(i, 1, LUNS_CHANGED);
      await expectUaOnce(i, 5, [0x06, 0x29, 0x00]);
    }
    const data = randomBytes(8192);
    expect((await a.command({ lun: 5, cdb: write10(7, 16), write: data })).status).toBe(GOOD);
    expect((await b.command({ lun: 5, cdb: read10(7, 16), read: 8192 })).data.equals(data)).toBe(true);
    expect(await capacity(b, 5)).toEqual({ lastLba: BigInt(8 * 2048 - 1), blockSize: 512 });
    await expect(t.scatter.luns.add(next.targets[0]!, next.targets[0]!.luns[0]!)).rejects.toThrow(/LUN 5 already exists/);
  });

  it('a removed LUN: its queued commands end, it leaves REPORT LUNS, then LOGICAL UNIT NOT SUPPORTED; the other LUN keeps working', async () => {
    t = await startTestTarget((raw, dir) => {
      (raw.targets as { luns: unknown[] }[])[0]!.luns.push({ lun: 2, backstore: { type: 'file', path: join(dir, 'lun2.img'), size: '4MiB' } });
    });
    // No immediate data, so a write waits for an R2T answer that a holds back.
    const a = await session('a', [0, 1, 2], [['ImmediateData', 'No'], ['InitialR2T', 'Yes']]);
    const b = await session('b', [0, 1, 2]);
    void a.command({ lun: 2, cdb: write10(0, 1), write: Buffer.alloc(512), holdData: true }).catch(() => undefined);
    const heldItt = a.allocItt() - 1;
    const ordered = a.command({ lun: 2, cdb: read10(0, 1), read: 512, attr: ATTR_ORDERED });
    // The write holds its R2T; the NOP-Out after the ORDERED read is answered once the read is taken in.
    await a.r2tFor(heldItt);
    await a.nop();

    await t.scatter.luns.remove(TEST_IQN, 2);
    expect((await ordered).status).toBe(TASK_ABORTED);
    // The write still waiting for its data is the initiator's to abort; the session goes on.
    expect(await a.tmf(1, { lun: 2, refItt: heldItt, refCmdSN: a.cmdSN - 2 })).toBe(0);
    expect(t.scatter.lunRegistry.get(TEST_IQN, 2)).toBeUndefined();

    for (const i of [a, b]) {
      expect(await lunList(i)).toEqual([0, 1]);
      expect(senseCodes((await i.command({ lun: 2, cdb: read10(0, 1), read: 512 })).sense)).toEqual(NOT_SUPPORTED);
      await expectUaOnce(i, 0, LUNS_CHANGED);
      await expectUaOnce(i, 1, LUNS_CHANGED);
      const data = randomBytes(1024);
      expect((await i.command({ cdb: write10(50, 2), write: data })).status).toBe(GOOD);
      expect((await i.command({ cdb: read10(50, 2), read: 1024 })).data.equals(data)).toBe(true);
    }
    await expect(t.scatter.luns.remove(TEST_IQN, 2)).rejects.toThrow(/LUN 2 does not exist/);
  });

  it('a write whose data arrives after the removal ends with TASK ABORTED and writes nothing', async () => {
    t = await startTestTarget();
    const a = await session('a', [0, 1], [['ImmediateData', 'No'], ['InitialR2T', 'Yes']]);
    const written = await a.command({ cdb: write10(9, 1), write: Buffer.alloc(512, 0x11) });
    expect(written.status).toBe(GOOD);
    // A WRITE to LUN 0 sent by hand, so that its R2T is answered only after the LUN is gone.
    let r2tArrived!: (r2t: { ttt: number; length: number }) => void;
    const r2tSeen = new Promise<{ ttt: number; length: number }>((resolve) => (r2tArrived = resolve));
    const itt = a.allocItt();
    const cmdSN = a.nextCmdSN();
    const response = a.request(
      itt,
      () => {
        const { bhs, ahs } = P.scsiCommand({ final: true, read: false, write: true, lun: 0, itt, edtl: 512, cmdSN, expStatSN: a.expStatSN, cdb: write10(9, 1), dataLength: 0 });
        a.send(bhs, undefined, ahs);
      },
      (p) => {
        if (opcodeOf(p.bhs) === Op.R2T) r2tArrived({ ttt: p.bhs.readUInt32BE(20), length: p.bhs.readUInt32BE(44) });
      },
    );
    const r2t = await within(r2tSeen, 5000, 'the R2T for the write');
    const backing = t.scatter.lunRegistry.get(TEST_IQN, 0)!.queue!;
    await t.scatter.luns.remove(TEST_IQN, 0);
    a.send(
      P.dataOut({ final: true, lun: 0, itt, ttt: r2t.ttt, expStatSN: a.expStatSN, dataSN: 0, bufferOffset: 0, dataLength: 512 }),
      Buffer.alloc(512, 0xee),
    );
    const rsp = await response;
    expect(opcodeOf(rsp.bhs)).toBe(Op.SCSI_RSP);
    expect(rsp.bhs[3]).toBe(TASK_ABORTED);
    await expect(backing.read(0, 512)).rejects.toThrow(/closed/);
    const fd = openSync(join(t.dir, 'lun0.img'), 'r');
    const block = Buffer.alloc(512);
    readSync(fd, block, 0, 512, 9 * 512);
    closeSync(fd);
    expect(block.equals(Buffer.alloc(512, 0x11))).toBe(true);
  });
});
