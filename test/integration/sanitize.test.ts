import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inquiry, read10, reportLuns, requestSense, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { waitUntil } from '../helpers/wait.js';

const GOOD = 0;
const CHECK_CONDITION = 2;
const NOT_READY_SANITIZING: [number, number, number] = [0x02, 0x04, 0x1b];
const TMF_ABORT_TASK_SET = 2;
const TMF_LUN_RESET = 5;
const TMF_TARGET_WARM_RESET = 6;
const LU_BYTES = 4 * 1024 * 1024;
/** 4 MiB at 1 MiB/s: the overwrite lasts about 4 s, long enough to watch it from another session. */
const RATE = '1MiB';

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw, dir) => {
    (raw.targets as { luns: unknown[] }[])[0]!.luns = [
      { lun: 0, backstore: { type: 'file', path: join(dir, 'lun0.img'), size: LU_BYTES }, sanitizeRate: RATE },
      { lun: 1, backstore: { type: 'file', path: join(dir, 'lun1.img'), size: LU_BYTES } },
    ];
  });
});
afterAll(() => t.stop());

async function session(isid: number): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  const id = Buffer.from([0x80, 0, 0, 0, 0, isid]);
  const r = await i.login({ targetName: TEST_IQN, isid: id });
  expect(r.status).toEqual([0, 0]);
  // Clear the power-on unit attention of both LUs.
  for (const lun of [0, 1]) await i.command({ cdb: testUnitReady(), lun });
  return i;
}

/** SANITIZE OVERWRITE, IMMED, one-block pattern of `fill`, one pass. */
function overwrite(fill: number): { cdb: Buffer; write: Buffer } {
  const cdb = Buffer.from([0x48, 0x80 | 0x01, 0, 0, 0, 0, 0, 0x02, 0x04, 0]);
  const list = Buffer.alloc(516, fill);
  list[0] = 1;
  list[1] = 0;
  list.writeUInt16BE(512, 2);
  return { cdb, write: list };
}

/** PROGRESS INDICATION of fixed-format sense (SKSV must be set). */
function progressOf(sense: Buffer | undefined): number {
  expect(sense).toBeDefined();
  const b = sense ?? Buffer.alloc(18);
  expect(b[15]! & 0x80).toBe(0x80);
  return b.readUInt16BE(16);
}

function fileBytes(name: string, offset: number, length: number): Buffer {
  const fd = openSync(join(t.dir, name), 'r');
  const b = Buffer.alloc(length);
  readSync(fd, b, 0, length, offset);
  closeSync(fd);
  return b;
}

describe('SANITIZE OVERWRITE over iSCSI', () => {
  it('runs in the background: other sessions see SANITIZE IN PROGRESS with progress, resets do not stop it, the data ends as the pattern', async () => {
    const a = await session(1);
    const b = await session(2);
    const before = Buffer.alloc(512, 0x61);
    expect((await a.command({ cdb: write10(0, 1), write: before })).status).toBe(GOOD);
    expect((await a.command({ cdb: write10(0, 1), write: before, lun: 1 })).status).toBe(GOOD);

    const started = await a.command(overwrite(0xc3));
    expect(started.status).toBe(GOOD);

    // Another session: media access refused with the progress indication, INQUIRY / REPORT LUNS answered.
    const tur = await b.command({ cdb: testUnitReady() });
    expect(tur.status).toBe(CHECK_CONDITION);
    expect(senseCodes(tur.sense)).toEqual(NOT_READY_SANITIZING);
    const first = progressOf(tur.sense);
    const read = await b.command({ cdb: read10(0, 1), read: 512 });
    expect(senseCodes(read.sense)).toEqual(NOT_READY_SANITIZING);
    expect((await b.command({ cdb: inquiry(96), read: 96 })).status).toBe(GOOD);
    expect((await b.command({ cdb: reportLuns(), read: 4096 })).status).toBe(GOOD);
    // The other LU is untouched and serves I/O.
    expect((await b.command({ cdb: read10(0, 1), read: 512, lun: 1 })).data).toEqual(before);

    // Task management and a logout do not stop the operation.
    expect(await b.tmf(TMF_ABORT_TASK_SET)).toBe(0);
    expect(await b.tmf(TMF_LUN_RESET)).toBe(0);
    expect(await a.tmf(TMF_TARGET_WARM_RESET)).toBe(0);
    await a.logout();
    a.close();

    const c = await session(3);
    const polled = await c.command({ cdb: requestSense(), read: 252 });
    expect(polled.status).toBe(GOOD);
    expect(senseCodes(polled.data)).toEqual(NOT_READY_SANITIZING);
    expect(progressOf(polled.data)).toBeGreaterThanOrEqual(first);

    // Poll until it ends (bounded): every answer until then says SANITIZE IN PROGRESS; then TUR is
    // GOOD and every block holds the pattern.
    const ended = async (): Promise<boolean> => {
      const tur = await c.command({ cdb: testUnitReady() });
      if (tur.status === GOOD) return true;
      expect(senseCodes(tur.sense)).toEqual(NOT_READY_SANITIZING);
      return false;
    };
    await waitUntil(ended, 'the sanitize ends (TEST UNIT READY is GOOD)', { timeoutMs: 60_000, pollMs: 200 });
    expect((await c.command({ cdb: read10(0, 1), read: 512 })).data).toEqual(Buffer.alloc(512, 0xc3));
    const whole = fileBytes('lun0.img', 0, LU_BYTES);
    expect(whole.every((x) => x === 0xc3)).toBe(true);
    expect(fileBytes('lun1.img', 0, 512)).toEqual(before);
    b.close();
    c.close();
  }, 90_000);
});
