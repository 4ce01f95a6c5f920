/**
 * Real EIO from the kernel calls, in the real `scatter serve` (an LD_PRELOAD library fails
 * fdatasync / writes / reads of the LUN's backing file on demand: test/helpers/fault-shim.ts):
 *
 * - fsyncgate: after one failed fdatasync, SYNCHRONIZE CACHE and FUA writes keep failing with
 *   MEDIUM ERROR although the next fdatasync would succeed, until SIGHUP acknowledges it;
 * - every backstore error is logged at error (rate-limited) with target, LUN, path, operation,
 *   LBA range and errno, and counted by cause in scatter_backstore_errors_total.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { CLI, freePort, logged, startCli, type CliProc } from '../helpers/cli-proc.js';
import { buildFaultShim, faultShimAvailable, type FaultShim } from '../helpers/fault-shim.js';
import { TestInitiator } from '../helpers/initiator.js';
import { scrape } from '../helpers/metrics.js';
import { waitUntil } from '../helpers/wait.js';

const IQN = 'iqn.2026-11.io.scatter:eio';
const GOOD = 0x00;
const FUA = 0x08;
const SYNC_CACHE = Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const WRITE_ERROR = [0x03, 0x0c, 0x00];
const UNRECOVERED_READ_ERROR = [0x03, 0x11, 0x00];

describe.skipIf(!faultShimAvailable())('backstore EIO in scatter serve (LD_PRELOAD fault injection)', () => {
  let dir: string;
  let shim: FaultShim;
  let proc: CliProc;
  let ini: TestInitiator;
  let adminPort: number;
  let lunPath: string;
  const backstoreErrors = () => logged(proc, 'backstore error');
  const metric = async (name: string, labels: Record<string, string>) => (await scrape(adminPort)).exposition.value(name, { target: IQN, lun: '0', ...labels });

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');
    dir = mkdtempSync(join(tmpdir(), 'scatter-eio-'));
    shim = buildFaultShim();
    lunPath = join(dir, 'lun0.img');
    const port = await freePort();
    adminPort = await freePort();
    const cfg = join(dir, 'scatter.yaml');
    writeFileSync(
      cfg,
      [
        'logLevel: info',
        `stateDir: ${dir}/state`,
        `admin: { port: ${adminPort} }`,
        `iscsi: { portals: [ { host: 127.0.0.1, port: ${port} } ], nopInInterval: 0 }`,
        'targets:',
        `  - iqn: ${IQN}`,
        '    luns:',
        `      - { lun: 0, backstore: { type: file, path: ${lunPath}, size: 16MiB } }`,
        '',
      ].join('\n'),
    );
    proc = startCli(['serve', '--config', cfg], { env: shim.env(lunPath) });
    await waitUntil(() => proc.stdout.includes('scatter is serving'), '"scatter is serving" logged');
    ini = await TestInitiator.connect(port);
    expect((await ini.login({ targetName: IQN })).status).toEqual([0, 0]);
    await ini.command({ cdb: testUnitReady() }); // the power-on unit attention
  });
  afterAll(async () => {
    ini?.close();
    proc?.child.kill('SIGKILL');
    await proc?.exited;
    shim?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a failed fdatasync is not forgotten: SYNCHRONIZE CACHE and FUA writes fail until SIGHUP; logged once, counted', async () => {
    const data = randomBytes(4096);
    expect((await ini.command({ cdb: write10(0, 8), write: data })).status).toBe(GOOD);

    shim.fail('fdatasync');
    expect(senseCodes((await ini.command({ cdb: SYNC_CACHE })).sense)).toEqual(WRITE_ERROR);
    // The kernel would now say the pages are clean: fdatasync succeeds, and proves nothing.
    shim.fail();
    expect(senseCodes((await ini.command({ cdb: SYNC_CACHE })).sense)).toEqual(WRITE_ERROR);
    expect(senseCodes((await ini.command({ cdb: write10(8, 8, FUA), write: data })).sense)).toEqual(WRITE_ERROR);
    // What promises no durability still works.
    expect((await ini.command({ cdb: write10(16, 8), write: data })).status).toBe(GOOD);
    const back = await ini.command({ cdb: read10(0, 8), read: 4096 });
    expect(back.status).toBe(GOOD);
    expect(back.data.equals(data)).toBe(true);

    // The log line travels over the child's stdout pipe, the SCSI answer over TCP: either may come first.
    await waitUntil(() => backstoreErrors().length >= 1, 'the backstore error is logged');
    const lines = backstoreErrors();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, target: IQN, lun: 0, path: lunPath, op: 'flush', cause: 'flush', errno: 'EIO' });
    expect(await metric('scatter_backstore_errors_total', { cause: 'flush' })).toBe(1);
    expect(await metric('scatter_lun_state', { state: 'writeback_failed' })).toBe(1);

    proc.child.kill('SIGHUP');
    await waitUntil(() => logged(proc, 'config reloaded').length === 1, '"config reloaded" logged once');
    expect(logged(proc, 'failed write-back acknowledged by a reload: SYNCHRONIZE CACHE and FUA writes are served again')).toHaveLength(1);
    expect((await ini.command({ cdb: SYNC_CACHE })).status).toBe(GOOD);
    expect((await ini.command({ cdb: write10(8, 8, FUA), write: data })).status).toBe(GOOD);
    expect(await metric('scatter_lun_state', { state: 'serving' })).toBe(1);
  });

  it('EIO on writes and reads: MEDIUM ERROR for each, one log line per kind (with LBA range), every one counted', async () => {
    const data = randomBytes(8192);
    expect((await ini.command({ cdb: write10(100, 16), write: data })).status).toBe(GOOD);
    const before = await metric('scatter_backstore_errors_total', { cause: 'eio' });

    shim.fail('write');
    for (let i = 0; i < 20; i++) {
      const r = await ini.command({ cdb: write10(200 + i, 1), write: data.subarray(0, 512) });
      expect(senseCodes(r.sense)).toEqual(WRITE_ERROR);
    }
    // The data just written is in the page cache: a read is answered inline (preadv2 through
    // koffi), which must see the failure too.
    shim.fail('read');
    expect(senseCodes((await ini.command({ cdb: read10(100, 16), read: 8192 })).sense)).toEqual(UNRECOVERED_READ_ERROR);
    shim.fail();
    expect((await ini.command({ cdb: read10(100, 16), read: 8192 })).data.equals(data)).toBe(true);

    const eioLines = () => backstoreErrors().filter((l) => l.cause === 'eio');
    await waitUntil(() => eioLines().length >= 2, 'the write and the read EIO are logged');
    const eio = eioLines();
    expect(eio.map((l) => l.op)).toEqual(['write', 'read']);
    expect(eio[0]).toMatchObject({ level: 50, target: IQN, lun: 0, path: lunPath, errno: 'EIO', lba: 200, blocks: 1 });
    expect(eio[1]).toMatchObject({ errno: 'EIO', lba: 100, blocks: 16 });
    expect(await metric('scatter_backstore_errors_total', { cause: 'eio' })).toBe(before + 21);
    // EIO is a failed I/O, not a lost medium: the LU keeps serving.
    expect(await metric('scatter_lun_up', {})).toBe(1);
    expect((await ini.command({ cdb: testUnitReady() })).status).toBe(GOOD);
  });
});
