/**
 * Backstore faults over iSCSI, against the real target and real files: a truncated or deleted
 * backing file is a medium error and takes the LU offline (NOT READY), is never zeros with GOOD
 * nor silently recreated or grown back at the next start; an LU that cannot be opened does not
 * stop the others and comes back when reopened; a full file system, a state file that cannot be
 * written (reservations, sanitize marker) are errors the initiator sees, logged and counted.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { inquiry, read10, reportLuns, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { scrape } from '../helpers/metrics.js';
import { IN, parseReadKeys, prInCdb, prOutCdb, prOutParams, SA } from '../helpers/pr.js';
import { capturingLogger, startTestTarget, TEST_IQN, type TestTarget } from '../helpers/target.js';
import { findTool } from '../helpers/tools.js';

const GOOD = 0x00;
const CHECK_CONDITION = 0x02;
const KiB = 1024;
const MiB = 1024 * KiB;
const NOT_READY = [0x02, 0x04, 0x03];
const UNRECOVERED_READ_ERROR = [0x03, 0x11, 0x00];
const WRITE_ERROR = [0x03, 0x0c, 0x00];
const POWER_ON = [0x06, 0x29, 0x00];
const SYNC_CACHE = Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

type Luns = { luns: unknown[] }[];

let t: TestTarget | undefined;
const open: TestInitiator[] = [];
afterEach(async () => {
  for (const i of open.splice(0)) i.close();
  await t?.stop();
  t = undefined;
});

async function session(target: TestTarget, luns: number[]): Promise<TestInitiator> {
  const i = await TestInitiator.connect(target.port);
  open.push(i);
  expect((await i.login({ targetName: TEST_IQN })).status).toEqual([0, 0]);
  for (const lun of luns) await i.command({ lun, cdb: testUnitReady() }); // power-on unit attentions
  return i;
}

async function lunList(i: TestInitiator): Promise<number[]> {
  const data = (await i.command({ cdb: reportLuns(), read: 4096 })).data;
  const out: number[] = [];
  for (let off = 8; off + 8 <= 8 + data.readUInt32BE(0); off += 8) out.push(data.readUInt16BE(off) & 0x3fff);
  return out;
}

const codes = async (i: TestInitiator, o: Parameters<TestInitiator['command']>[0]) => senseCodes((await i.command(o)).sense);
const metric = async (target: TestTarget, name: string, labels: Record<string, string>) =>
  (await scrape(target.scatter.adminPort!)).exposition.value(name, { target: TEST_IQN, ...labels });

describe('a backing file truncated behind the target', () => {
  it('a read inside the capacity past the new end: MEDIUM ERROR, not zeros; then NOT READY; logged and counted', async () => {
    const cap = capturingLogger();
    t = await startTestTarget(undefined, { log: cap.log });
    const path = join(t.dir, 'lun0.img');
    const i = await session(t, [0, 1]);
    const data = randomBytes(MiB);
    expect((await i.command({ cdb: write10(0, 2048, 0x08), write: data })).status).toBe(GOOD);
    truncateSync(path, 256 * KiB);

    const r = await i.command({ cdb: read10(1024, 8), read: 4096 });
    expect(r.status).toBe(CHECK_CONDITION);
    expect(senseCodes(r.sense)).toEqual(UNRECOVERED_READ_ERROR);
    // Offline from now on: no more reads of what is left, no writes.
    expect(await codes(i, { cdb: testUnitReady() })).toEqual(NOT_READY);
    expect(await codes(i, { cdb: read10(0, 8), read: 4096 })).toEqual(NOT_READY);
    expect(await codes(i, { cdb: write10(0, 1), write: Buffer.alloc(512) })).toEqual(NOT_READY);
    expect(await lunList(i)).toEqual([0, 1]);
    expect((await i.command({ cdb: inquiry(96), read: 96 })).status).toBe(GOOD);
    expect((await i.command({ lun: 1, cdb: read10(0, 8), read: 4096 })).status).toBe(GOOD);
    expect(statSync(path).size).toBe(256 * KiB);

    expect(cap.messages('backstore error')).toEqual([
      expect.objectContaining({ level: 50, target: TEST_IQN, lun: 0, path, op: 'read', cause: 'truncated', lba: 1024, blocks: 8 }),
    ]);
    expect(await metric(t, 'scatter_backstore_errors_total', { lun: '0', cause: 'truncated' })).toBe(1);
    expect(await metric(t, 'scatter_lun_up', { lun: '0' })).toBe(0);
    expect(await metric(t, 'scatter_lun_state', { lun: '0', state: 'offline' })).toBe(1);
    expect(await metric(t, 'scatter_lun_up', { lun: '1' })).toBe(1);
  });

  it('a write past the new end: MEDIUM ERROR WRITE ERROR, and the file is not extended again', async () => {
    t = await startTestTarget();
    const path = join(t.dir, 'lun0.img');
    const i = await session(t, [0]);
    truncateSync(path, 256 * KiB);
    expect(await codes(i, { cdb: write10(100_000, 8), write: randomBytes(4096) })).toEqual(WRITE_ERROR);
    expect(statSync(path).size).toBe(256 * KiB);
    expect(await codes(i, { cdb: testUnitReady() })).toEqual(NOT_READY);
  });
});

describe('a backing file deleted behind the target', () => {
  it('writes fail and the LU goes offline; at the next start it is NOT READY, not recreated; create: always brings it back', async () => {
    const cap = capturingLogger();
    t = await startTestTarget(undefined, { log: cap.log });
    const dir = t.dir;
    const path = join(dir, 'lun0.img');
    let i = await session(t, [0]);
    expect((await i.command({ cdb: write10(0, 8, 0x08), write: randomBytes(4096) })).status).toBe(GOOD);
    unlinkSync(path);
    expect(await codes(i, { cdb: write10(8, 8, 0x08), write: randomBytes(4096) })).toEqual(WRITE_ERROR);
    expect(await codes(i, { cdb: SYNC_CACHE })).toEqual(NOT_READY);
    expect(cap.messages('backstore error')).toEqual([expect.objectContaining({ level: 50, op: 'write', cause: 'unlinked', path })]);

    // Restart on the same directories.
    i.close();
    await t.scatter.stop(0);
    const again = capturingLogger();
    t = await startTestTarget(undefined, { log: again.log, dir });
    i = await session(t, [0, 1]);
    expect(await lunList(i)).toEqual([0, 1]);
    expect(await codes(i, { cdb: testUnitReady() })).toEqual(NOT_READY);
    expect(existsSync(path)).toBe(false);
    const why = again.messages('LUN not served: its storage could not be opened; it answers NOT READY until a reload (SIGHUP) opens it');
    expect(why).toEqual([expect.objectContaining({ level: 50, lun: 0, path, cause: 'not_found' })]);
    expect(String(why[0]!.reason)).toContain('create: always');

    // The operator accepts the loss.
    const next = validateConfig(
      { targets: [{ iqn: TEST_IQN, luns: [{ lun: 0, backstore: { type: 'file', path, size: '64MiB', create: 'always' } }] }] },
      'test',
    );
    await t.scatter.luns.reopen(next.targets[0]!, next.targets[0]!.luns[0]!);
    expect(await codes(i, { cdb: testUnitReady() })).toEqual(POWER_ON);
    expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    expect(statSync(path).size).toBe(64 * MiB);
  });

  it('a file found shorter than it was served is refused at start, not grown back', async () => {
    t = await startTestTarget();
    const dir = t.dir;
    const path = join(dir, 'lun0.img');
    await t.scatter.stop(0);
    truncateSync(path, MiB);
    t = await startTestTarget(undefined, { dir });
    const i = await session(t, [0]);
    expect(await codes(i, { cdb: testUnitReady() })).toEqual(NOT_READY);
    expect(statSync(path).size).toBe(MiB);
  });
});

describe('one LU that cannot be opened does not stop the target', () => {
  it('a missing block device and an unusable path are NOT READY; the others are served; reopened once fixed', async () => {
    const cap = capturingLogger();
    let blocker = '';
    t = await startTestTarget(
      (raw, dir) => {
        blocker = join(dir, 'blocker');
        writeFileSync(blocker, 'a file where a directory should be');
        (raw.targets as Luns)[0]!.luns = [
          { lun: 0, backstore: { type: 'block', path: join(dir, 'no-such-device') } },
          { lun: 1, backstore: { type: 'file', path: join(blocker, 'lun1.img'), size: '8MiB' } },
          { lun: 2, backstore: { type: 'file', path: join(dir, 'lun2.img'), size: '8MiB' } },
          { lun: 3, backstore: { type: 'null', size: '8MiB' } },
        ];
      },
      { log: cap.log },
    );
    const i = await session(t, [0, 1, 2, 3]);
    expect(await lunList(i)).toEqual([0, 1, 2, 3]);
    for (const lun of [0, 1]) {
      expect(await codes(i, { lun, cdb: testUnitReady() })).toEqual(NOT_READY);
      expect((await i.command({ lun, cdb: inquiry(96), read: 96 })).status).toBe(GOOD);
    }
    const data = randomBytes(8192);
    expect((await i.command({ lun: 2, cdb: write10(5, 16), write: data })).status).toBe(GOOD);
    expect((await i.command({ lun: 2, cdb: read10(5, 16), read: 8192 })).data.equals(data)).toBe(true);
    expect((await i.command({ lun: 3, cdb: testUnitReady() })).status).toBe(GOOD);

    const failed = cap.messages('LUN not served: its storage could not be opened; it answers NOT READY until a reload (SIGHUP) opens it');
    expect(failed.map((l) => [l.lun, l.cause, l.errno])).toEqual([
      [0, 'not_found', 'ENOENT'],
      [1, 'not_found', 'ENOTDIR'],
    ]);
    expect(await metric(t, 'scatter_lun_up', { lun: '0' })).toBe(0);
    expect(await metric(t, 'scatter_lun_state', { lun: '1', state: 'offline' })).toBe(1);
    expect(await metric(t, 'scatter_backstore_errors_total', { lun: '1', cause: 'not_found' })).toBe(1);
    expect(await metric(t, 'scatter_lun_up', { lun: '2' })).toBe(1);

    // The operator clears the path; a reload opens the LU.
    rmSync(blocker);
    mkdirSync(blocker);
    const lun1 = t.config.targets[0]!.luns[1]!;
    await t.scatter.luns.reopen(t.config.targets[0]!, lun1);
    expect(await codes(i, { lun: 1, cdb: testUnitReady() })).toEqual(POWER_ON);
    expect((await i.command({ lun: 1, cdb: write10(0, 16), write: data })).status).toBe(GOOD);
    expect(await metric(t, 'scatter_lun_up', { lun: '1' })).toBe(1);
    // Still missing: it stays NOT READY, and says so.
    await expect(t.scatter.luns.reopen(t.config.targets[0]!, t.config.targets[0]!.luns[0]!)).rejects.toThrow(/still cannot be opened/);
    expect(await codes(i, { lun: 0, cdb: testUnitReady() })).toEqual(NOT_READY);
  });
});

describe('state files that cannot be written: the command changes nothing and fails', () => {
  it('PERSISTENT RESERVE OUT with APTPL: HARDWARE ERROR, READ KEYS shows nothing, logged as persist', async () => {
    const cap = capturingLogger();
    t = await startTestTarget(undefined, { log: cap.log });
    const i = await session(t, [0]);
    // The reservation state directory beside the backing file is a regular file now.
    writeFileSync(join(t.dir, 'pr'), 'not a directory');
    const r = await i.command({ cdb: prOutCdb(SA.REGISTER), write: prOutParams(0n, 0xabn, { aptpl: true }) });
    expect(senseCodes(r.sense)).toEqual([0x04, 0x44, 0x00]);
    expect(parseReadKeys((await i.command({ cdb: prInCdb(IN.READ_KEYS), read: 4096 })).data)).toEqual({ generation: 0, keys: [] });
    expect(cap.messages('backstore error')).toEqual([expect.objectContaining({ level: 50, lun: 0, cause: 'persist' })]);
    expect(await metric(t, 'scatter_backstore_errors_total', { lun: '0', cause: 'persist' })).toBe(1);
  });

  it('SANITIZE whose marker cannot be written: HARDWARE ERROR, nothing starts, no marker left', async () => {
    t = await startTestTarget();
    const i = await session(t, [0]);
    writeFileSync(join(t.dir, 'sanitize'), 'not a directory');
    const list = Buffer.alloc(516, 0x5a);
    list[0] = 1; // one pass
    list[1] = 0;
    list.writeUInt16BE(512, 2);
    const r = await i.command({ cdb: Buffer.from([0x48, 0x01, 0, 0, 0, 0, 0, 0x02, 0x04, 0]), write: list });
    expect(senseCodes(r.sense)).toEqual([0x04, 0x44, 0x00]);
    expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    expect((await i.command({ cdb: read10(0, 1), read: 512 })).data.equals(Buffer.alloc(512))).toBe(true);
  });
});

const canMount = process.getuid?.() === 0 && findTool('mount') !== undefined;
if (!canMount && process.env.CI) throw new Error('CI requires root and mount for the ENOSPC tests');

describe.skipIf(!canMount)('a full file system (a small tmpfs)', () => {
  const mounts: string[] = [];
  afterAll(() => {
    for (const m of mounts) {
      execFileSync(findTool('umount')!, [m]);
      rmSync(m, { recursive: true, force: true });
    }
  });
  function smallTmpfs(size: string): string {
    const m = mkdtempSync(join(tmpdir(), 'scatter-enospc-'));
    execFileSync(findTool('mount')!, ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', m]);
    mounts.push(m);
    return m;
  }
  /** Fill the file system to the last byte. */
  function fill(m: string): void {
    try {
      writeFileSync(join(m, 'filler'), Buffer.alloc(64 * MiB));
    } catch {
      // ENOSPC: what fitted is written, the rest is refused: the file system is full.
    }
  }

  it('a write that finds no space: SPACE ALLOCATION FAILED, logged at warn, counted; an atomic write that cannot be journaled does not happen', async () => {
    const m = smallTmpfs('2m');
    const cap = capturingLogger();
    t = await startTestTarget(
      (raw) => {
        (raw.targets as Luns)[0]!.luns = [{ lun: 0, backstore: { type: 'file', path: join(m, 'lun0.img'), size: '16MiB' } }];
      },
      { log: cap.log },
    );
    const i = await session(t, [0]);
    fill(m);
    const r = await i.command({ cdb: write10(4096, 128), write: randomBytes(64 * KiB) });
    expect(senseCodes(r.sense)).toEqual([0x07, 0x27, 0x07]);
    expect(cap.messages('backstore error')).toEqual([expect.objectContaining({ level: 40, lun: 0, op: 'write', cause: 'enospc', errno: 'ENOSPC', lba: 4096, blocks: 128 })]);
    expect(await metric(t, 'scatter_backstore_errors_total', { lun: '0', cause: 'enospc' })).toBe(1);
    // No space is not a lost medium: the LU is still there.
    expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);

    const atomic = Buffer.alloc(16);
    atomic[0] = 0x9c;
    atomic.writeBigUInt64BE(8192n, 2);
    atomic.writeUInt16BE(8, 12);
    const a = await i.command({ cdb: atomic, write: Buffer.alloc(4096, 0xee) });
    expect(senseCodes(a.sense)).toEqual([0x07, 0x27, 0x07]);
    expect((await i.command({ cdb: read10(8192, 8), read: 4096 })).data.equals(Buffer.alloc(4096))).toBe(true);
    expect(cap.messages('backstore error')[1]).toMatchObject({ level: 50, lun: 0, op: 'WRITE ATOMIC (journal)', cause: 'persist', errno: 'ENOSPC' });
    expect(await metric(t, 'scatter_backstore_errors_total', { lun: '0', cause: 'persist' })).toBe(1);
  });

  it('a sanitize marker that cannot be written leaves none behind: after a restart the LU is not "sanitize failed"', async () => {
    const m = smallTmpfs('1m');
    const lun = [{ lun: 0, backstore: { type: 'file', path: join(m, 'lun0.img'), size: '4MiB' } }];
    t = await startTestTarget((raw) => {
      (raw.targets as Luns)[0]!.luns = lun;
    });
    const dir = t.dir;
    let i = await session(t, [0]);
    mkdirSync(join(m, 'sanitize'));
    fill(m);
    const list = Buffer.alloc(516, 0x5a);
    list[0] = 1; // one pass
    list[1] = 0;
    list.writeUInt16BE(512, 2);
    const r = await i.command({ cdb: Buffer.from([0x48, 0x01, 0, 0, 0, 0, 0, 0x02, 0x04, 0]), write: list });
    expect(senseCodes(r.sense)).toEqual([0x04, 0x44, 0x00]);
    expect(readdirSync(join(m, 'sanitize'))).toEqual([]);
    i.close();
    await t.scatter.stop(0);
    t = await startTestTarget(
      (raw) => {
        (raw.targets as Luns)[0]!.luns = lun;
      },
      { dir },
    );
    i = await session(t, [0]);
    expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
  });
});
