import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { read10, senseCodes, testUnitReady } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

/**
 * A SANITIZE OVERWRITE cut short by a restart of Scatter is not forgotten: the LU comes back in
 * the "sanitize failed" condition (MEDIUM ERROR, SANITIZE COMMAND FAILED 31h/03h on medium access)
 * rather than serving a half-overwritten medium as if nothing had happened; EXIT FAILURE MODE
 * (the operation ran with AUSE = 1) leaves it, and the marker file goes with it.
 */
const GOOD = 0;
const CHECK_CONDITION = 2;
const LU_BYTES = 4 * 1024 * 1024;
const SANITIZE_FAILED: [number, number, number] = [0x03, 0x31, 0x03];

let dataDir: string;
let t: TestTarget | undefined;
const marker = (): string => join(dataDir, 'sanitize', `${TEST_IQN}-0.json`);

async function startTarget(): Promise<TestTarget> {
  return startTestTarget((raw) => {
    (raw.targets as { luns: unknown[] }[])[0]!.luns = [
      // 4 MiB at 512 KiB/s: the overwrite would take 8 s; the target is stopped long before.
      { lun: 0, backstore: { type: 'file', path: join(dataDir, 'lun0.img'), size: LU_BYTES }, sanitizeRate: '512KiB' },
    ];
  });
}

async function session(): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t!.port);
  expect((await i.login({ targetName: TEST_IQN })).status).toEqual([0, 0]);
  await i.command({ cdb: testUnitReady() }); // the power-on unit attention
  return i;
}

/** SANITIZE (IMMED) with service action `sa`, AUSE as given, and an optional parameter list. */
function sanitize(sa: number, ause: boolean, list?: Buffer): { cdb: Buffer; write?: Buffer } {
  const cdb = Buffer.from([0x48, 0x80 | (ause ? 0x20 : 0) | sa, 0, 0, 0, 0, 0, 0, 0, 0]);
  cdb.writeUInt16BE(list?.length ?? 0, 7);
  return list ? { cdb, write: list } : { cdb };
}

function overwriteList(): Buffer {
  const list = Buffer.alloc(8, 0x5a);
  list[0] = 1; // one pass
  list[1] = 0;
  list.writeUInt16BE(4, 2); // a 4-byte pattern
  return list;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'scatter-sanitize-restart-'));
  t = await startTarget();
});
afterAll(async () => {
  await t?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('SANITIZE across a restart', () => {
  it('an overwrite interrupted by a restart leaves the LU sanitize-failed until EXIT FAILURE MODE', async () => {
    const a = await session();
    expect((await a.command(sanitize(0x01, true, overwriteList()))).status).toBe(GOOD);
    expect(existsSync(marker())).toBe(true);
    const busy = await a.command({ cdb: testUnitReady() });
    expect(senseCodes(busy.sense)).toEqual([0x02, 0x04, 0x1b]);
    a.close();
    await t!.scatter.stop(0);

    t = await startTarget();
    const b = await session();
    const read = await b.command({ cdb: read10(0, 1), read: 512 });
    expect(read.status).toBe(CHECK_CONDITION);
    expect(senseCodes(read.sense)).toEqual(SANITIZE_FAILED);
    // AUSE was 1: EXIT FAILURE MODE leaves the condition; the marker is gone with it.
    expect((await b.command(sanitize(0x1f, false))).status).toBe(GOOD);
    expect(existsSync(marker())).toBe(false);
    expect((await b.command({ cdb: read10(0, 1), read: 512 })).status).toBe(GOOD);
    b.close();
  });
});
