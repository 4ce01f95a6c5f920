import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestInitiator } from '../helpers/initiator.js';
import { read10, testUnitReady, write10 } from '../helpers/cdb.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * The target-wide bound on buffered write data (iscsi.maxBufferedWriteBytes): with 128 KiB of
 * budget and every byte solicited by R2T, a third 64 KiB write gets no R2T while two others hold
 * the budget, gets it as soon as one of them ends (here: is aborted), and everything written
 * through the bound lands intact.
 */
const GOOD = 0;
const BUDGET = 128 * 1024;
const WRITE = 64 * 1024;
const BLOCKS = WRITE / 512;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw) => {
    // The whole budget may go to one session here: this file is about the target-wide bound.
    raw.iscsi = { ...(raw.iscsi as object), maxBufferedWriteBytes: BUDGET, maxBufferedWriteBytesPerSession: BUDGET };
  });
});
afterAll(() => t?.stop());

async function session(isid: number): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  i.isid = Buffer.from([0x80, 0, 0, 0, 0, isid]);
  const r = await i.login({
    targetName: TEST_IQN,
    keys: [
      ['ImmediateData', 'No'],
      ['InitialR2T', 'Yes'],
      ['MaxBurstLength', '262144'],
    ],
  });
  expect(r.status).toEqual([0, 0]);
  await i.command({ cdb: testUnitReady() }); // the power-on unit attention
  return i;
}

describe('buffered write data bound (maxBufferedWriteBytes)', () => {
  it('holds back R2Ts beyond the budget and sends them when a holder ends', async () => {
    const budget = t.scatter.iscsi.writeBudget;
    const a = await session(1);
    const b = await session(2);
    // Two writes that take their R2Ts but never send the data: they hold the whole budget.
    const held1 = a.command({ cdb: write10(0, BLOCKS), write: Buffer.alloc(WRITE), holdData: true });
    const itt1 = a.allocItt() - 1;
    const held2 = a.command({ cdb: write10(BLOCKS, BLOCKS), write: Buffer.alloc(WRITE), holdData: true });
    held1.catch(() => undefined);
    held2.catch(() => undefined);
    await waitUntil(() => budget.inUse === BUDGET, 'the two held writes take the whole budget');

    // A third write, from another session, has to wait for the budget: no R2T, no completion.
    const data = randomBytes(WRITE);
    let done = false;
    const third = b.command({ cdb: write10(4 * BLOCKS, BLOCKS), write: data }).finally(() => (done = true));
    const thirdItt = b.allocItt() - 1;
    await waitUntil(() => budget.waiting === 1, 'the third write waits for the budget');
    await b.nop(); // a barrier: whatever the target sent b before this answer has arrived
    expect(b.received.filter((h) => h.readUInt32BE(16) === thirdItt)).toEqual([]);
    expect(done).toBe(false);
    expect(budget.inUse).toBe(BUDGET);

    // Aborting one holder gives its bytes back; the third gets its R2T and completes.
    expect(await a.tmf(1, { lun: 0, refItt: itt1, refCmdSN: a.cmdSN - 2 })).toBe(0);
    const r = await third;
    expect(r.status).toBe(GOOD);
    expect(r.r2ts.length).toBeGreaterThan(0);
    const back = await b.command({ cdb: read10(4 * BLOCKS, BLOCKS), read: WRITE });
    expect(back.data.equals(data)).toBe(true);

    // Ending the sessions gives back the rest.
    a.close();
    b.close();
    await waitUntil(() => budget.inUse === 0 && budget.waiting === 0, 'the budget is free');
  });

  it('many concurrent writes larger than the budget all complete byte-exact, one budget at a time', async () => {
    const budget = t.scatter.iscsi.writeBudget;
    const sessions = await Promise.all([session(3), session(4)]);
    const payloads = Array.from({ length: 12 }, () => randomBytes(WRITE * 3)); // each 192 KiB > budget
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, budget.inUse)), 1);
    try {
      const results = await Promise.all(
        payloads.map((p, k) => sessions[k % 2]!.command({ cdb: write10(1000 + k * 3 * BLOCKS, 3 * BLOCKS), write: p })),
      );
      for (const r of results) expect(r.status).toBe(GOOD);
    } finally {
      clearInterval(sampler);
    }
    // Oversized reservations go one at a time (alone), never two at once.
    expect(peak).toBeLessThanOrEqual(WRITE * 3);
    for (let k = 0; k < payloads.length; k++) {
      const r = await sessions[0]!.command({ cdb: read10(1000 + k * 3 * BLOCKS, 3 * BLOCKS), read: WRITE * 3 });
      expect(r.data.equals(payloads[k]!)).toBe(true);
    }
    expect(budget.inUse).toBe(0);
    for (const s of sessions) {
      await s.logout();
      s.close();
    }
  });
});
