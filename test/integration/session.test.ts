import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestInitiator } from '../helpers/initiator.js';
import { read10, write10, testUnitReady, inquiry, senseCodes } from '../helpers/cdb.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget();
});
afterAll(() => t.stop());

async function session(opts: { isid?: Buffer; keys?: [string, string][] } = {}): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  const r = await i.login({ targetName: TEST_IQN, isid: opts.isid, keys: opts.keys });
  expect(r.status).toEqual([0, 0]);
  await i.command({ cdb: testUnitReady() }); // consume the power-on UA
  return i;
}

const NO_IMMEDIATE: [string, string][] = [
  ['ImmediateData', 'No'],
  ['InitialR2T', 'Yes'],
];

describe('session', () => {
  it('echoes NOP-Out ping data', async () => {
    const i = await session();
    const data = randomBytes(100);
    const p = await i.nop(data);
    expect(p.data.toBuffer().equals(data)).toBe(true);
    expect(p.bhs.readUInt32BE(20)).toBe(0xffffffff);
    i.close();
  });

  it('ABORT TASK of a write waiting for its data completes at once; the task never answers', async () => {
    const i = await session({ keys: NO_IMMEDIATE });
    const stuck = i.command({ cdb: write10(10, 8), write: Buffer.alloc(4096), holdData: true });
    stuck.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const itt = i.allocItt() - 1;
    const response = await i.tmf(1, { lun: 0, refItt: itt, refCmdSN: i.cmdSN - 1 });
    expect(response).toBe(0);
    // The session goes on: a later command is answered normally.
    expect((await i.command({ cdb: inquiry(36), read: 36 })).status).toBe(0);
    await expect(Promise.race([stuck, new Promise((r) => setTimeout(() => r('no answer'), 300))])).resolves.toBe('no answer');
    i.close();
  });

  it('ABORT TASK for an unknown task answers "task does not exist"', async () => {
    const i = await session();
    expect(await i.tmf(1, { lun: 0, refItt: 999, refCmdSN: 0 })).toBe(1);
    i.close();
  });

  it('LUN RESET aborts waiting tasks and raises a unit attention for other nexuses', async () => {
    const a = await session({ keys: NO_IMMEDIATE });
    const b = await session({ isid: Buffer.from([0x80, 0, 0, 0, 0, 0x42]) });
    const stuck = a.command({ cdb: write10(20, 8), write: Buffer.alloc(4096), holdData: true });
    stuck.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.tmf(5, { lun: 0 })).toBe(0);
    const afterB = await b.command({ cdb: testUnitReady() });
    expect(afterB.status).toBe(2);
    expect(senseCodes(afterB.sense)?.slice(0, 2)).toEqual([0x06, 0x29]);
    expect(await a.tmf(5, { lun: 77 })).toBe(2);
    a.close();
    b.close();
  });

  it('ABORT TASK SET drops this session’s waiting tasks; CLEAR TASK SET also those of other sessions', async () => {
    const a = await session({ keys: NO_IMMEDIATE });
    const b = await session({ isid: Buffer.from([0x80, 0, 0, 0, 0, 0x77]), keys: NO_IMMEDIATE });
    const never = (p: Promise<unknown>) => {
      p.catch(() => undefined);
      return Promise.race([p.then(() => 'answered'), new Promise((r) => setTimeout(() => r('no answer'), 300))]);
    };
    const a1 = a.command({ cdb: write10(30, 8), write: Buffer.alloc(4096), holdData: true });
    const b1 = b.command({ cdb: write10(40, 8), write: Buffer.alloc(4096), holdData: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.tmf(2, { lun: 0 })).toBe(0); // ABORT TASK SET: a's task only
    expect(await never(a1)).toBe('no answer');
    expect(t.scatter.iscsi.sessions.all().some((s) => s.tasks.size > 0)).toBe(true); // b's task is still there
    expect(await a.tmf(4, { lun: 0 })).toBe(0); // CLEAR TASK SET: every nexus
    expect(await never(b1)).toBe('no answer');
    expect(t.scatter.iscsi.sessions.all().every((s) => s.tasks.size === 0)).toBe(true);
    expect((await b.command({ cdb: inquiry(36), read: 36 })).status).toBe(0);
    a.close();
    b.close();
  });

  it('TARGET COLD RESET answers, then ends every session of the target', async () => {
    const a = await session();
    const b = await session({ isid: Buffer.from([0x80, 0, 0, 0, 0, 0x78]) });
    expect(await a.tmf(7)).toBe(0);
    await a.waitClosed();
    await b.waitClosed();
  });

  it('TARGET WARM RESET completes and raises a reset unit attention on every LUN', async () => {
    const a = await session();
    expect(await a.tmf(6)).toBe(0);
    for (const lun of [0, 1]) {
      const r = await a.command({ lun, cdb: testUnitReady() });
      expect(r.status).toBe(2);
      expect(senseCodes(r.sense)?.slice(0, 2)).toEqual([0x06, 0x29]);
    }
    expect((await a.command({ cdb: testUnitReady() })).status).toBe(0);
    a.close();
  });

  it('reinstates a session: same InitiatorName and ISID with TSIH 0 replaces the old one', async () => {
    const isid = Buffer.from([0x80, 1, 2, 3, 4, 5]);
    const old = await session({ isid });
    const oldTsih = old.tsih;
    const fresh = await session({ isid });
    await old.waitClosed();
    expect(fresh.tsih).not.toBe(oldTsih);
    const data = randomBytes(512);
    expect((await fresh.command({ cdb: write10(3, 1), write: data })).status).toBe(0);
    expect((await fresh.command({ cdb: read10(3, 1), read: 512 })).data.equals(data)).toBe(true);
    expect(t.scatter.iscsi.sessions.all().filter((s) => s.outcome.isid.equals(isid))).toHaveLength(1);
    fresh.close();
  });

  it('refuses a login that names an unknown TSIH', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ targetName: TEST_IQN, tsih: 4242 });
    expect(r.status).toEqual([0x02, 0x0a]);
  });

  it('rejects a PDU with an unknown opcode and keeps the session', async () => {
    const i = await session();
    const reject = i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x3f);
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x1c; // not an initiator opcode
    bhs[1] = 0x80;
    i.send(bhs);
    const p = await reject;
    expect(p.bhs[2]).toBe(0x05);
    expect(p.data.toBuffer().subarray(0, 1)[0]).toBe(0x1c);
    expect((await i.nop()).bhs[0]! & 0x3f).toBe(0x20);
    i.close();
  });

  it('refuses a data segment longer than negotiated before buffering it', async () => {
    const i = await session();
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x40; // NOP-Out, immediate
    bhs[1] = 0x80;
    bhs[5] = 0x10; // 1 MiB data segment > MaxRecvDataSegmentLength 262144
    bhs.writeUInt32BE(7, 16);
    bhs.writeUInt32BE(0xffffffff, 20);
    i.sendRaw(bhs);
    await i.waitClosed();
    // The target is still up.
    const j = await session();
    j.close();
  });

  it('drops a connection that does not answer NOP-In pings', async () => {
    const u = await startTestTarget((raw) => {
      raw.iscsi = { ...(raw.iscsi as object), nopInInterval: 1, nopInTimeout: 1 };
    });
    try {
      const quiet = await TestInitiator.connect(u.port);
      quiet.answerPings = false;
      await quiet.login({ targetName: TEST_IQN });
      const alive = await TestInitiator.connect(u.port);
      await alive.login({ targetName: TEST_IQN, isid: Buffer.from([0x80, 9, 9, 9, 9, 9]) });
      const ping = await alive.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x20, 3000);
      expect(ping.bhs.readUInt32BE(16)).toBe(0xffffffff);
      await quiet.waitClosed(4000);
      // The one that answers stays up: a second ping only follows an answered first one.
      const again = await alive.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x20 && p.bhs.readUInt32BE(20) !== ping.bhs.readUInt32BE(20), 4000);
      expect(again.bhs.readUInt32BE(16)).toBe(0xffffffff);
      expect(alive.closed).toBe(false);
      alive.close();
    } finally {
      await u.stop();
    }
  });

  it('asks initiators to log out at shutdown (Async Message event 1)', async () => {
    const u = await startTestTarget();
    const i = await TestInitiator.connect(u.port);
    await i.login({ targetName: TEST_IQN });
    const msg = i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x32, 3000);
    const stopping = u.stop(1000);
    const p = await msg;
    expect(p.bhs[36]).toBe(1);
    expect(await i.logout()).toBe(0);
    await stopping;
    await i.waitClosed();
  });

  it('ignores a command outside the CmdSN window', async () => {
    const i = await session();
    const outside = i.cmdSN + 100000;
    const saved = i.cmdSN;
    i.cmdSN = outside;
    const lost = i.command({ cdb: inquiry(36), read: 36 });
    lost.catch(() => undefined);
    i.cmdSN = saved;
    expect((await i.command({ cdb: inquiry(36), read: 36 })).status).toBe(0);
    await expect(Promise.race([lost, new Promise((r) => setTimeout(() => r('ignored'), 200))])).resolves.toBe('ignored');
    i.close();
  });
});
