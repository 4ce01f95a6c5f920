/**
 * What one session may hold of the target (issue #9, items 11, 13, 14, 15): immediate commands are
 * capped, the CmdSN window bounds the commands a session has in the target, one session cannot take
 * the whole write budget, immediate data counts against it, and a write cut into 1-byte Data-Out
 * PDUs is still gathered into a bounded number of buffers and lands intact.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '../../src/iscsi/opcodes.js';
import { opcodeOf, type InPdu } from '../../src/iscsi/pdu.js';
import type { Session } from '../../src/iscsi/session.js';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import * as P from '../helpers/initiator-pdus.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { waitUntil } from '../helpers/wait.js';

const GOOD = 0;
const CHECK_CONDITION = 2;
const BUSY = 0x08;
const TASK_SET_FULL = 0x28;
const KiB = 1024;

let t: TestTarget;
/** The same, with a CmdSN window of 8 commands. */
let narrow: TestTarget;
const limits = (window: number, dataOutTimeout: number) => (raw: Record<string, unknown>) => {
  raw.iscsi = {
    ...(raw.iscsi as object),
    maxCmdWindow: window,
    maxImmediateCommands: 4,
    maxBufferedWriteBytes: '1MiB',
    maxBufferedWriteBytesPerSession: '256KiB',
    dataOutTimeout,
  };
};
beforeAll(async () => {
  t = await startTestTarget(limits(64, 30));
  narrow = await startTestTarget(limits(8, 0.5));
});
afterAll(async () => {
  await t?.stop();
  await narrow?.stop();
});

let nextIsid = 1;
async function session(keys: [string, string][], on: TestTarget = t): Promise<TestInitiator> {
  const i = await TestInitiator.connect(on.port);
  i.isid = Buffer.from([0x80, 0, 0, 0, 1, nextIsid++]);
  const r = await i.login({ targetName: TEST_IQN, keys: [['MaxRecvDataSegmentLength', '262144'], ['MaxBurstLength', '262144'], ...keys] });
  expect(r.status).toEqual([0, 0]);
  await i.command({ cdb: testUnitReady() }); // the power-on unit attention
  return i;
}

function targetSession(i: TestInitiator, on: TestTarget = t): Session {
  const s = on.scatter.iscsi.sessions.get(i.tsih);
  if (!s) throw new Error(`no session ${i.tsih}`);
  return s;
}

const isReject = (p: InPdu): boolean => opcodeOf(p.bhs) === Op.REJECT;

describe('commands one session may have in the target (item 11)', () => {
  it('immediate commands beyond maxImmediateCommands get Reject 06h (too many immediate commands) and hold nothing', async () => {
    const i = await session([['InitialR2T', 'Yes'], ['ImmediateData', 'No']]);
    const held: Promise<unknown>[] = [];
    for (let k = 0; k < 10; k++) {
      held.push(i.command({ cdb: write10(k * 8, 8), write: Buffer.alloc(4096), immediate: true, holdData: true }).catch(() => undefined));
    }
    const rejects: InPdu[] = [];
    for (let k = 0; k < 6; k++) rejects.push(await i.waitFor(isReject));
    expect(rejects.map((p) => p.bhs[2])).toEqual([6, 6, 6, 6, 6, 6]);
    expect(targetSession(i).tasks.size).toBe(4);
    i.close();
    await Promise.all(held);
  });

  it('MaxCmdSN moves as commands end, not as they arrive: the window bounds the commands in the target', async () => {
    const i = await session([['InitialR2T', 'Yes'], ['ImmediateData', 'No']], narrow);
    const first = i.cmdSN;
    const held = Array.from({ length: 8 }, (_, k) =>
      i.command({ cdb: write10(100 + k * 8, 8), write: Buffer.alloc(4096), holdData: true }),
    );
    // Every one of the 8 got its R2T: they are all in the target, waiting for data.
    const s = targetSession(i, narrow);
    await waitUntil(() => s.tasks.size === 8 && [...s.tasks.values()].every((task) => task.r2ts.size > 0), 'eight writes hold R2Ts');
    expect(s.window.maxCmdSN).toBe((first + 7) >>> 0);
    expect(i.maxCmdSN).toBe((first + 7) >>> 0);
    // One more, beyond MaxCmdSN, is not taken in: once an immediate NOP-Out behind it is answered,
    // the target has seen it and still holds 8.
    const extraItt = i.allocItt();
    i.sendRaw(P.scsiCommand({ final: true, read: false, write: false, lun: 0, itt: extraItt, edtl: 0, cmdSN: i.nextCmdSN(), expStatSN: i.expStatSN, cdb: testUnitReady(), dataLength: 0 }).bhs);
    await i.nop();
    expect(s.tasks.size).toBe(8);
    // The held writes end (Data-Out deadline): the window opens again, one command per ended one.
    for (const r of await Promise.all(held)) expect(r.status).toBe(CHECK_CONDITION);
    await waitUntil(() => s.tasks.size === 0, 'the held writes end');
    expect(s.window.maxCmdSN).toBe((first + 15) >>> 0);
    expect(i.unsolicited.filter((p) => p.bhs.readUInt32BE(16) === extraItt)).toEqual([]);
    i.close();
  });
});

describe('the write budget (items 13, 14)', () => {
  it('one session cannot take the whole budget: a bystander writes while another holds R2Ts it never answers', async () => {
    const budget = t.scatter.iscsi.writeBudget;
    const attacker = await session([['InitialR2T', 'Yes'], ['ImmediateData', 'No']]);
    const bystander = await session([['InitialR2T', 'Yes'], ['ImmediateData', 'No']]);
    const held = Array.from({ length: 8 }, (_, k) =>
      attacker.command({ cdb: write10(2000 + k * 256, 256), write: Buffer.alloc(128 * KiB), holdData: true }),
    );
    const a = targetSession(attacker);
    await waitUntil(() => budget.heldBy(a) > 0 && budget.waiting > 0, 'the attacker holds its share and waits for more');
    expect(budget.heldBy(a)).toBe(256 * KiB);
    const payloads = Array.from({ length: 16 }, () => randomBytes(64 * KiB));
    const results = await Promise.all(payloads.map((p, k) => bystander.command({ cdb: write10(8000 + k * 128, 128), write: p })));
    for (const r of results) expect(r.status).toBe(GOOD);
    expect(budget.heldBy(a)).toBeLessThanOrEqual(256 * KiB);
    for (let k = 0; k < payloads.length; k++) {
      const back = await bystander.command({ cdb: read10(8000 + k * 128, 128), read: 64 * KiB });
      expect(back.data.equals(payloads[k]!)).toBe(true);
    }
    // The attacker goes away (its writes would also end at the Data-Out deadline): the budget comes back.
    attacker.close();
    await Promise.allSettled(held);
    await waitUntil(() => budget.inUse === 0 && budget.waiting === 0, 'the write budget is free');
    bystander.close();
  });

  it('immediate data is counted: commands waiting behind a CmdSN gap hold their share, and beyond it are answered TASK SET FULL', async () => {
    const budget = t.scatter.iscsi.writeBudget;
    const i = await session([
      ['InitialR2T', 'Yes'],
      ['ImmediateData', 'Yes'],
      ['FirstBurstLength', '65536'],
    ]);
    const gap = i.nextCmdSN(); // never sent until the end: everything after it waits
    const payloads = Array.from({ length: 8 }, () => randomBytes(64 * KiB));
    const answers = payloads.map((p, k) => {
      const itt = i.allocItt();
      const lba = 20000 + k * 128;
      const { bhs } = P.scsiCommand({ final: true, read: false, write: true, lun: 0, itt, edtl: p.length, cmdSN: i.nextCmdSN(), expStatSN: i.expStatSN, cdb: write10(lba, 128), dataLength: p.length });
      return i.request(itt, () => i.sendRaw(P.concatPdu(bhs, undefined, p)));
    });
    const s = targetSession(i);
    await waitUntil(() => s.tasks.size === 8, 'the eight writes arrived');
    // 4 x 64 KiB fill the session's 256 KiB share; the data of the other four was not kept.
    expect(budget.inUse).toBe(256 * KiB);
    const metrics = await (await fetch(`http://127.0.0.1:${t.scatter.adminPort}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^scatter_iscsi_buffered_write_bytes ${256 * KiB}$`, 'm'));
    // Fill the gap: everything runs in order.
    const { bhs } = P.scsiCommand({ final: true, read: false, write: false, lun: 0, itt: i.allocItt(), edtl: 0, cmdSN: gap, expStatSN: i.expStatSN, cdb: testUnitReady(), dataLength: 0 });
    i.sendRaw(bhs);
    const rsps = await Promise.all(answers);
    const statuses = rsps.map((r) => r.bhs[3]);
    expect(statuses.slice(0, 4)).toEqual([GOOD, GOOD, GOOD, GOOD]);
    for (const st of statuses.slice(4)) expect([TASK_SET_FULL, BUSY]).toContain(st);
    for (let k = 0; k < 8; k++) {
      const back = await i.command({ cdb: read10(20000 + k * 128, 128), read: 64 * KiB });
      expect(back.data.equals(k < 4 ? payloads[k]! : Buffer.alloc(64 * KiB))).toBe(true);
    }
    expect(budget.inUse).toBe(0);
    i.close();
  });
});

describe('a write larger than the session share (found by the fuzzer)', () => {
  it('gets the rest of its data by R2T although it already holds its unsolicited burst', async () => {
    const i = await session([['InitialR2T', 'No'], ['ImmediateData', 'Yes'], ['FirstBurstLength', '65536']]);
    const data = randomBytes(512 * KiB); // the session's share is 256 KiB
    const r = await i.command({ cdb: write10(40000, 1024), write: data });
    expect(r.status).toBe(GOOD);
    expect(r.r2ts.length).toBeGreaterThan(0);
    const back = await i.command({ cdb: read10(40000, 1024), read: data.length });
    expect(back.data.equals(data)).toBe(true);
    i.close();
  });
});

describe('a write cut into 1-byte Data-Out PDUs (item 15)', () => {
  it('lands intact', async () => {
    const i = await session([['InitialR2T', 'Yes'], ['ImmediateData', 'No']]);
    const data = randomBytes(16 * KiB);
    const itt = i.allocItt();
    const rsp = await i.request(
      itt,
      () => {
        const { bhs } = P.scsiCommand({ final: true, read: false, write: true, lun: 0, itt, edtl: data.length, cmdSN: i.nextCmdSN(), expStatSN: i.expStatSN, cdb: write10(30000, 32), dataLength: 0 });
        i.sendRaw(bhs);
      },
      (p) => {
        if (opcodeOf(p.bhs) !== Op.R2T) return;
        const ttt = p.bhs.readUInt32BE(20);
        const offset = p.bhs.readUInt32BE(40);
        const length = p.bhs.readUInt32BE(44);
        const pdus: Buffer[] = [];
        for (let k = 0; k < length; k++) {
          pdus.push(
            P.concatPdu(
              P.dataOut({ final: k === length - 1, lun: 0, itt, ttt, expStatSN: i.expStatSN, dataSN: k, bufferOffset: offset + k, dataLength: 1 }),
              undefined,
              data.subarray(offset + k, offset + k + 1),
            ),
          );
        }
        i.sendRaw(Buffer.concat(pdus));
      },
      30_000,
    );
    expect([rsp.bhs[3], rsp.data.length > 2 ? senseCodes(rsp.data.toBuffer().subarray(2)) : undefined]).toEqual([GOOD, undefined]);
    const back = await i.command({ cdb: read10(30000, 32), read: data.length });
    expect(back.data.equals(data)).toBe(true);
    i.close();
  });
});
