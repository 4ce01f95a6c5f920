/**
 * `scatter serve` with LUNs whose storage cannot be opened (the built CLI in a child process):
 * it serves the others, the failed ones answer NOT READY and say why in the log, and SIGHUP opens
 * them once fixed. A backing file deleted between two runs is not recreated empty unless the
 * config asks for it (`create: always`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { CLI, freePort, logged, startCli, type CliProc } from '../helpers/cli-proc.js';
import { TestInitiator } from '../helpers/initiator.js';
import { waitUntil } from '../helpers/wait.js';

const IQN = 'iqn.2026-11.io.scatter:startup';
const GOOD = 0x00;
const NOT_READY = [0x02, 0x04, 0x03];
const POWER_ON = [0x06, 0x29, 0x00];
const NOT_SERVED = 'LUN not served: its storage could not be opened; it answers NOT READY until a reload (SIGHUP) opens it';

let dir: string | undefined;
let proc: CliProc | undefined;
let ini: TestInitiator | undefined;

function writeConfig(path: string, port: number, luns: string[]): void {
  writeFileSync(
    path,
    [
      'logLevel: info',
      `stateDir: ${dir}/state`,
      'admin: { enabled: false }',
      `iscsi: { portals: [ { host: 127.0.0.1, port: ${port} } ], nopInInterval: 0 }`,
      'targets:',
      `  - iqn: ${IQN}`,
      '    luns:',
      ...luns.map((l) => `      - ${l}`),
      '',
    ].join('\n'),
  );
}

async function connect(port: number, luns: number[]): Promise<TestInitiator> {
  ini?.close();
  ini = await TestInitiator.connect(port);
  expect((await ini.login({ targetName: IQN })).status).toEqual([0, 0]);
  for (const lun of luns) await ini.command({ lun, cdb: testUnitReady() });
  return ini;
}

const codes = async (i: TestInitiator, lun: number) => senseCodes((await i.command({ lun, cdb: testUnitReady() })).sense);

describe('scatter serve with LUNs that cannot be opened', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');
  });
  afterEach(async () => {
    ini?.close();
    ini = undefined;
    proc?.child.kill('SIGKILL');
    await proc?.exited;
    proc = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('serves the healthy LUN; the missing device and the unusable path are NOT READY, logged; SIGHUP opens the fixed one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'scatter-startup-'));
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'a file where a directory should be');
    const port = await freePort();
    const cfg = join(dir, 'scatter.yaml');
    writeConfig(cfg, port, [
      `{ lun: 0, backstore: { type: block, path: ${dir}/no-such-device } }`,
      `{ lun: 1, backstore: { type: file, path: ${blocker}/lun1.img, size: 8MiB } }`,
      `{ lun: 2, backstore: { type: file, path: ${dir}/lun2.img, size: 8MiB } }`,
    ]);
    proc = startCli(['serve', '--config', cfg]);
    await waitUntil(() => proc!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
    const failed = logged(proc, NOT_SERVED);
    expect(failed.map((l) => [l.level, l.lun, l.cause, l.errno, l.path])).toEqual([
      [50, 0, 'not_found', 'ENOENT', `${dir}/no-such-device`],
      [50, 1, 'not_found', 'ENOTDIR', `${blocker}/lun1.img`],
    ]);
    // The errno's text once in each reason.
    for (const l of failed) expect(String(l.reason).split(l.errno === 'ENOENT' ? 'no such file or directory' : 'not a directory')).toHaveLength(2);

    const i = await connect(port, [0, 1, 2]);
    expect(await codes(i, 0)).toEqual(NOT_READY);
    expect(await codes(i, 1)).toEqual(NOT_READY);
    const data = randomBytes(4096);
    expect((await i.command({ lun: 2, cdb: write10(0, 8), write: data })).status).toBe(GOOD);
    expect((await i.command({ lun: 2, cdb: read10(0, 8), read: 4096 })).data.equals(data)).toBe(true);

    rmSync(blocker);
    mkdirSync(blocker);
    proc.child.kill('SIGHUP');
    await waitUntil(() => logged(proc!, 'config reloaded').length === 1, '"config reloaded" logged once');
    // LUN 1 opened; LUN 0 still has no device: that step fails (a warning: the LU only stays as it was), NOT READY.
    const reloaded = logged(proc, 'config reloaded')[0]!;
    expect(reloaded).toMatchObject({ applied: 1 });
    expect(reloaded.warnings).toEqual([expect.stringMatching(/^open \S+ LUN 0 again: /)]);
    expect(logged(proc, 'LUN opened again')).toEqual([expect.objectContaining({ lun: 1 })]);
    expect(await codes(i, 1)).toEqual(POWER_ON);
    expect((await i.command({ lun: 1, cdb: write10(0, 8), write: data })).status).toBe(GOOD);
    expect(await codes(i, 0)).toEqual(NOT_READY);
    expect(existsSync(join(blocker, 'lun1.img'))).toBe(true);
  });

  it('a backing file deleted between two runs is NOT READY, not recreated; create: always and SIGHUP bring it back empty', async () => {
    dir = mkdtempSync(join(tmpdir(), 'scatter-startup-'));
    const path = join(dir, 'lun0.img');
    const port = await freePort();
    const cfg = join(dir, 'scatter.yaml');
    const lun = (extra = '') => `{ lun: 0, backstore: { type: file, path: ${path}, size: 16MiB${extra} } }`;
    writeConfig(cfg, port, [lun()]);
    proc = startCli(['serve', '--config', cfg]);
    await waitUntil(() => proc!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
    let i = await connect(port, [0]);
    expect((await i.command({ cdb: write10(0, 8, 0x08), write: randomBytes(4096) })).status).toBe(GOOD);
    i.close();
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);

    unlinkSync(path);
    proc = startCli(['serve', '--config', cfg]);
    await waitUntil(() => proc!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
    const why = logged(proc, NOT_SERVED);
    expect(why).toEqual([expect.objectContaining({ lun: 0, path, cause: 'not_found' })]);
    expect(String(why[0]!.reason)).toMatch(/served it before.*create: always/);
    expect(existsSync(path)).toBe(false);
    i = await connect(port, [0]);
    expect(await codes(i, 0)).toEqual(NOT_READY);

    writeConfig(cfg, port, [lun(', create: always')]);
    proc.child.kill('SIGHUP');
    await waitUntil(() => logged(proc!, 'config reloaded').length === 1, '"config reloaded" logged once');
    expect(logged(proc, 'config reloaded')[0]).toMatchObject({ applied: 1, warnings: [], needsRestart: [] });
    expect(await codes(i, 0)).toEqual(POWER_ON);
    expect((await i.command({ cdb: read10(0, 8), read: 4096 })).data.equals(Buffer.alloc(4096))).toBe(true);
    expect(statSync(path).size).toBe(16 * 1024 * 1024);
  });
});
