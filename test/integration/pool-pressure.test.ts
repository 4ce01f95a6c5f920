import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANDING_MIN_BYTES } from '../../src/iscsi/data-landing.js';
import { fileBytes } from '../helpers/file-bytes.js';
import { TestInitiator } from '../helpers/initiator.js';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

/**
 * The bounce pool running dry end to end: an O_DIRECT LUN (every misaligned Data-Out segment is
 * bounced through pool pages) behind a pool of four 4 KiB pages that gives up after 20 ms. Many
 * concurrent large writes must then end GOOD or TASK SET FULL / BUSY (never an error, never a
 * hang), the session must narrow MaxCmdSN when it says TASK SET FULL and widen it again as
 * commands succeed, and every write that said GOOD must be on disk byte-exact.
 */
const GOOD = 0x00;
const CHECK_CONDITION = 0x02;
const BUSY = 0x08;
const TASK_SET_FULL = 0x28;
const BLOCK = 512;
// 32 KiB per write: 8 pool pages' worth against a pool of 4. Below LANDING_MIN_BYTES on purpose:
// larger writes to an O_DIRECT LU are received into aligned landing pages and never bounce.
const WRITE_BLOCKS = 64;
const CONCURRENT = 24;
const MAX_CMD_WINDOW = 64;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw, dir) => {
    raw.memory = { poolPages: 4, pageSize: 4096, poolWaitMs: 20 };
    (raw.iscsi as Record<string, unknown>).maxCmdWindow = MAX_CMD_WINDOW;
    (raw.targets as { luns: unknown[] }[])[0]!.luns = [
      { lun: 0, backstore: { type: 'file', path: join(dir, 'direct.img'), size: '32MiB', direct: true } },
    ];
  });
});
afterAll(() => t?.stop());

function onDisk(offset: number, length: number): Buffer {
  return fileBytes(join(t.dir, 'direct.img'), offset, length);
}

async function session(): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  const r = await i.login({
    targetName: TEST_IQN,
    keys: [
      ['ImmediateData', 'Yes'],
      ['InitialR2T', 'No'],
      ['MaxRecvDataSegmentLength', '8192'],
      ['FirstBurstLength', '65536'],
      ['MaxBurstLength', '262144'],
    ],
  });
  expect(r.status).toEqual([0, 0]);
  const tur = await i.command({ cdb: testUnitReady() });
  expect(tur.status).toBe(CHECK_CONDITION); // the power-on unit attention
  return i;
}

/** Commands the target will still take: MaxCmdSN - ExpCmdSN + 1 (ExpCmdSN = our next CmdSN). */
function window(i: TestInitiator): number {
  return ((i.maxCmdSN - i.cmdSN + 1) | 0) >>> 0;
}

describe('bounce pool exhaustion over a real session', () => {
  it('answers TASK SET FULL / BUSY instead of failing, narrows MaxCmdSN, and loses no GOOD write', async () => {
    expect(WRITE_BLOCKS * BLOCK).toBeLessThan(LANDING_MIN_BYTES); // these writes bounce
    const i = await session();
    expect(window(i)).toBe(MAX_CMD_WINDOW);
    const payloads = Array.from({ length: CONCURRENT }, () => randomBytes(WRITE_BLOCKS * BLOCK));
    const lbaOf = (k: number) => k * WRITE_BLOCKS;

    // Phase 1, deterministic: every pool page is held, so no bounced write can get one in time.
    const held = await t.scatter.pool.alloc(4);
    let starved: number[];
    try {
      const r = await Promise.all(payloads.map((data, k) => i.command({ cdb: write10(lbaOf(k), WRITE_BLOCKS), write: data })));
      starved = r.map((x) => x.status);
    } finally {
      t.scatter.pool.free(held);
    }
    for (const s of starved) expect([GOOD, TASK_SET_FULL, BUSY]).toContain(s);
    expect(starved.filter((s) => s === TASK_SET_FULL).length).toBeGreaterThan(0);
    // TASK SET FULL narrowed the window to one. MaxCmdSN never goes backwards (RFC 7143: the
    // initiator may already use what was advertised), so the narrowing shows as MaxCmdSN standing
    // still while the next commands succeed, where it would otherwise advance with each of them.
    expect(starved.filter((s) => s === GOOD).length).toBe(0);
    const held0 = i.maxCmdSN;
    for (let n = 0; n < 10; n++) {
      expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
      expect(i.maxCmdSN).toBe(held0);
    }
    expect(window(i)).toBeLessThan(MAX_CMD_WINDOW);

    // Each GOOD command widens it again, back to the configured maximum.
    for (let n = 0; n < MAX_CMD_WINDOW && window(i) < MAX_CMD_WINDOW; n++) {
      expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    }
    expect(window(i)).toBe(MAX_CMD_WINDOW);

    // Phase 2, real contention: 24 x 32 KiB against 16 KiB of pool that waits 20 ms. Each
    // command ends GOOD or TASK SET FULL / BUSY; which ones depends on timing.
    const first = await Promise.all(payloads.map((data, k) => i.command({ cdb: write10(lbaOf(k), WRITE_BLOCKS), write: data })));
    for (const r of first) expect([GOOD, TASK_SET_FULL, BUSY]).toContain(r.status);

    // Every GOOD write is on the medium now (O_DIRECT), byte-exact.
    first.forEach((r, k) => {
      if (r.status === GOOD) expect(onDisk(lbaOf(k) * BLOCK, WRITE_BLOCKS * BLOCK).equals(payloads[k]!)).toBe(true);
    });

    // What an initiator does with TASK SET FULL: retry, one at a time here, until GOOD.
    for (let k = 0; k < CONCURRENT; k++) {
      if (first[k]!.status === GOOD) continue;
      let status = -1;
      for (let attempt = 0; attempt < 20 && status !== GOOD; attempt++) {
        status = (await i.command({ cdb: write10(lbaOf(k), WRITE_BLOCKS), write: payloads[k]! })).status;
        expect([GOOD, TASK_SET_FULL, BUSY]).toContain(status);
      }
      expect(status).toBe(GOOD);
    }
    for (let k = 0; k < CONCURRENT; k++) {
      expect(onDisk(lbaOf(k) * BLOCK, WRITE_BLOCKS * BLOCK).equals(payloads[k]!)).toBe(true);
      const r = await i.command({ cdb: read10(lbaOf(k), WRITE_BLOCKS), read: WRITE_BLOCKS * BLOCK });
      expect(r.status).toBe(GOOD);
      expect(r.data.equals(payloads[k]!)).toBe(true);
    }

    // Whatever phase 2 narrowed comes back too.
    for (let n = 0; n < MAX_CMD_WINDOW && window(i) < MAX_CMD_WINDOW; n++) {
      expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    }
    expect(window(i)).toBe(MAX_CMD_WINDOW);

    // Nothing leaked: every pool page is back.
    expect(t.scatter.pool.inUse).toBe(0);
    await i.logout();
    i.close();
  }, 60_000);

  it('a lone command that cannot get pages is told BUSY, not TASK SET FULL', async () => {
    const i = await session();
    // Hold every pool page so the next command cannot bounce.
    const held = await t.scatter.pool.alloc(4);
    try {
      const r = await i.command({ cdb: write10(0, 16), write: randomBytes(16 * BLOCK) });
      expect(r.status).toBe(BUSY);
      expect(senseCodes(r.sense)).toBeUndefined();
    } finally {
      t.scatter.pool.free(held);
    }
    expect((await i.command({ cdb: write10(0, 16), write: randomBytes(16 * BLOCK) })).status).toBe(GOOD);
    await i.logout();
    i.close();
  });
});
