/**
 * Deadlines for a peer that stalls (issue #9, items 10, 13, 16 and the Data-In side of 12): no Login
 * Request soon after connecting, a PDU trickled a byte at a time (slow-loris, before and after
 * login), Data-Out that never comes, an initiator that stops reading what it asked for. Each test
 * waits for the target's reaction (the connection closed, the command answered), with deadlines
 * configured short; none of them sleeps.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '../../src/iscsi/opcodes.js';
import { opcodeOf } from '../../src/iscsi/pdu.js';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import * as P from '../helpers/initiator-pdus.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { waitUntil, within } from '../helpers/wait.js';

const GOOD = 0;
const CHECK_CONDITION = 2;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw) => {
    raw.iscsi = {
      ...(raw.iscsi as object),
      firstPduTimeout: 0.3,
      loginTimeout: 5,
      pduTimeout: 0.4,
      sendStallTimeout: 0.6,
      dataOutTimeout: 0.4,
      maxBufferedWriteBytes: '1MiB',
      maxQueuedBytesPerConnection: '1MiB',
      maxBufferedReadBytes: '16MiB',
    };
  });
});
afterAll(() => t?.stop());

function rawConnect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: t.port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    else s.once('close', () => resolve());
  });
}

let nextIsid = 1;
async function session(keys: [string, string][] = []): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  i.isid = Buffer.from([0x80, 0, 0, 0, 0, nextIsid++]); // distinct sessions, not reinstatements
  expect((await i.login({ targetName: TEST_IQN, keys: [['MaxRecvDataSegmentLength', '262144'], ...keys] })).status).toEqual([0, 0]);
  await i.command({ cdb: testUnitReady() }); // the power-on unit attention
  return i;
}

/** Sends `bytes` one at a time, one per `everyMs`, until done or the socket closes; resolves with how many went out. */
function trickle(s: net.Socket, bytes: Buffer, everyMs: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    const timer = setInterval(() => {
      if (s.destroyed || sent >= bytes.length) {
        clearInterval(timer);
        resolve(sent);
        return;
      }
      s.write(bytes.subarray(sent, sent + 1));
      sent++;
    }, everyMs);
  });
}

describe('deadlines for a stalling peer', () => {
  it('drops a connection that sends no Login Request (firstPduTimeout), and keeps one that logs in', async () => {
    const idle = await rawConnect();
    const start = Date.now();
    const good = await session();
    // Well before the 5 s login timeout: the first-PDU deadline (0.3 s) did it.
    await within(closed(idle), 3000, 'the idle connection closing');
    expect(Date.now() - start).toBeGreaterThanOrEqual(250);
    expect(good.closed).toBe(false);
    expect((await good.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    good.close();
  });

  it('drops a slow-loris login: a Login Request trickled a byte at a time never completes', async () => {
    const s = await rawConnect();
    s.on('error', () => undefined);
    const text = Buffer.from(`InitiatorName=iqn.2026-11.io.scatter.test:loris\0SessionType=Normal\0TargetName=${TEST_IQN}\0AuthMethod=None\0`);
    const login = P.concatPdu(
      P.loginRequest({ transit: true, csg: 0, nsg: 1, isid: Buffer.alloc(6), tsih: 0, itt: 1, cid: 0, cmdSN: 1, expStatSN: 0, dataLength: text.length }),
      undefined,
      text,
    );
    // 20 bytes/s: the whole PDU would take ~9 s; the target gives a started PDU 0.4 s.
    const sent = trickle(s, login, 50);
    await closed(s);
    expect(await sent).toBeLessThan(login.length);
  });

  it('drops a slow-loris in full feature phase: a NOP-Out header trickled after login', async () => {
    const i = await session();
    const nop = P.nopOut({ immediate: true, itt: i.allocItt(), ttt: 0xffffffff, cmdSN: i.cmdSN, expStatSN: i.expStatSN, dataLength: 0 });
    const sent = trickle(i.socket, nop, 50); // 48 bytes at 20 bytes/s
    await i.waitClosed(5000);
    expect(await sent).toBeLessThan(nop.length);
    expect(i.unsolicited.filter((p) => opcodeOf(p.bhs) === Op.NOP_IN)).toEqual([]);
  });

  it('drops a connection that announces a large data segment and trickles it', async () => {
    const i = await session();
    const data = Buffer.alloc(256 * 1024);
    const nop = P.concatPdu(P.nopOut({ immediate: true, itt: i.allocItt(), ttt: 0xffffffff, cmdSN: i.cmdSN, expStatSN: i.expStatSN, dataLength: data.length }), undefined, data);
    i.socket.write(nop.subarray(0, 48 + 1000)); // the header and a little data, then a byte at a time
    const sent = trickle(i.socket, nop.subarray(48 + 1000), 20);
    await i.waitClosed(5000);
    expect(await sent).toBeLessThan(nop.length - 1048);
  });

  it('ends a WRITE whose Data-Out never comes with INITIATOR RESPONSE TIMEOUT and gives its budget back', async () => {
    const i = await session([['InitialR2T', 'Yes'], ['ImmediateData', 'No']]);
    const budget = t.scatter.iscsi.writeBudget;
    const r = await i.command({ cdb: write10(0, 128), write: Buffer.alloc(65536), holdData: true });
    expect(r.r2ts.length).toBeGreaterThan(0);
    expect(r.status).toBe(CHECK_CONDITION);
    expect(senseCodes(r.sense)).toEqual([0x0b, 0x4b, 0x06]);
    expect(budget.inUse).toBe(0);
    // The session goes on.
    expect((await i.command({ cdb: read10(0, 8), read: 4096 })).status).toBe(GOOD);
    i.close();
  });

  it('ends a WRITE whose unsolicited burst stops half way, answering it without waiting for the F bit', async () => {
    const i = await session([['InitialR2T', 'No'], ['ImmediateData', 'Yes'], ['FirstBurstLength', '65536']]);
    const itt = i.allocItt();
    const { bhs } = P.scsiCommand({ final: false, read: false, write: true, lun: 0, itt, edtl: 65536, cmdSN: i.nextCmdSN(), expStatSN: i.expStatSN, cdb: write10(1000, 128), dataLength: 4096 });
    const rsp = await i.request(itt, () => i.sendRaw(P.concatPdu(bhs, undefined, Buffer.alloc(4096))));
    expect(rsp.bhs[3]).toBe(CHECK_CONDITION);
    await waitUntil(() => t.scatter.iscsi.writeBudget.inUse === 0, 'the write budget is free');
    i.close();
  });

  it('drops a connection whose initiator stops reading the Data-In it asked for (sendStallTimeout), keeping only its share meanwhile', async () => {
    const reader = await session();
    await reader.command({ lun: 1, cdb: testUnitReady() }); // LUN 1's own power-on unit attention
    const i = await session();
    const stats = t.scatter.lunRegistry.get(TEST_IQN, 1)!.queue!.stats;
    const readsBefore = stats.readRequests;
    i.socket.pause(); // never read again
    const reads = Array.from({ length: 32 }, () => i.command({ lun: 1, cdb: read10(0, 16384), read: 8 * 1024 * 1024 }).catch(() => undefined));
    await waitUntil(() => t.scatter.iscsi.readBudget.waiting > 0, 'reads wait for their connection to drain');
    // One 8 MiB read larger than the 1 MiB share goes alone; the rest wait instead of filling memory.
    expect(t.scatter.iscsi.readBudget.inUse).toBeLessThanOrEqual(8 * 1024 * 1024);
    // Another initiator reads meanwhile.
    expect((await reader.command({ lun: 1, cdb: read10(0, 2048), read: 1024 * 1024 })).status).toBe(GOOD);
    // The target drops it (the paused client itself notices only when it reads again).
    await waitUntil(() => t.scatter.iscsi.sessions.get(i.tsih) === undefined, 'the stalled session is dropped');
    i.close();
    await Promise.all(reads);
    expect(stats.readRequests - readsBefore).toBeLessThan(8);
    await waitUntil(() => t.scatter.iscsi.readBudget.inUse === 0, 'the read budget is free');
    reader.close();
  });
});
