/**
 * `scatter serve` re-reads its config on SIGHUP: the built CLI in a child process, a real
 * initiator (libiscsi's iscsi-readcapacity16) before and after.
 */
import { execFileSync } from 'node:child_process';
import { statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, freePort, scratchDir, logged, startCli, type CliProc } from '../helpers/cli-proc.js';
import { createLoop, loopAvailable } from '../helpers/loop.js';
import { findTool, missingTools, run } from '../helpers/tools.js';
import { waitUntil } from '../helpers/wait.js';

const IQN = 'iqn.2026-11.io.scatter:reload';
const MiB = 1024 * 1024;
const missing = missingTools(['iscsi-readcapacity16']);

function configText(port: number, luns: string[], extra = '', top = ''): string {
  return [
    'logLevel: info',
    top,
    // Everything in the test's temp dir, and no admin listener to collide with a real target's.
    `stateDir: ${dir}/state`,
    'admin: { enabled: false }',
    `iscsi: { portals: [ { host: 127.0.0.1, port: ${port} } ], nopInInterval: 0 }`,
    'targets:',
    `  - iqn: ${IQN}`,
    extra,
    '    luns:',
    ...luns.map((l) => `      - ${l}`),
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

const fileLun = (dir: string, lun: number, size: string): string =>
  `{ lun: ${lun}, backstore: { type: file, path: ${dir}/lun${lun}.img, size: ${size} } }`;

async function totalSize(port: number, lun: number): Promise<number> {
  const r = await run('iscsi-readcapacity16', [`iscsi://127.0.0.1:${port}/${IQN}/${lun}`]);
  expect(r.code, r.stderr).toBe(0);
  const m = /Total size:\s*(\d+)/.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  return Number(m![1]);
}

let dir: string | undefined;

describe.skipIf(missing.length > 0)('scatter serve: SIGHUP reloads the config', () => {
  let proc: CliProc | undefined;
  cliSuite();

  it('grows a file LUN and adds a LUN live; an invalid or shrinking config changes nothing; alias and LUN removal apply live, memory waits for a restart', async () => {
    dir = scratchDir('scatter-reload-');
    const port = await freePort();
    const cfg = join(dir, 'scatter.yaml');
    writeFileSync(cfg, configText(port, [fileLun(dir, 0, '64MiB')]));
    proc = startCli(['serve', '--config', cfg]);
    await waitUntil(() => proc!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
    expect(await totalSize(port, 0)).toBe(64 * MiB);

    // Grow LUN 0 and add LUN 1.
    writeFileSync(cfg, configText(port, [fileLun(dir, 0, '256MiB'), fileLun(dir, 1, '16MiB')]));
    proc.child.kill('SIGHUP');
    await waitUntil(() => logged(proc!, 'config reloaded').length === 1, '"config reloaded" logged once');
    expect(logged(proc, 'config reloaded')[0]).toMatchObject({ applied: 2, needsRestart: [], warnings: [] });
    expect(await totalSize(port, 0)).toBe(256 * MiB);
    expect(await totalSize(port, 1)).toBe(16 * MiB);
    expect(statSync(join(dir, 'lun0.img')).size).toBe(256 * MiB);

    // A broken file: logged, nothing changes, still serving.
    writeFileSync(cfg, configText(port, [fileLun(dir, 0, '1000')]));
    proc.child.kill('SIGHUP');
    await waitUntil(() => logged(proc!, 'config reload: invalid configuration; nothing changed').length === 1, '"config reload: invalid configuration; nothing changed" logged once');
    const invalid = logged(proc, 'config reload: invalid configuration; nothing changed')[0]!;
    expect(invalid.level).toBe(50); // error
    expect(JSON.stringify(invalid.issues)).toContain('targets[0].luns[0].backstore.size: must be a multiple of blockSize (512)');
    expect(await totalSize(port, 0)).toBe(256 * MiB);
    expect(await totalSize(port, 1)).toBe(16 * MiB);

    // A shrink is refused, and with it the whole reload: the alias change in the same file is not applied.
    writeFileSync(cfg, configText(port, [fileLun(dir, 0, '128MiB'), fileLun(dir, 1, '16MiB')], '    alias: renamed'));
    proc.child.kill('SIGHUP');
    await waitUntil(() => logged(proc!, 'config reload refused; nothing changed').length === 1, '"config reload refused" logged once');
    const refused = logged(proc, 'config reload refused; nothing changed')[0]!;
    expect(refused.level).toBe(50); // error
    expect(JSON.stringify(refused.refused)).toContain(`target ${IQN} LUN 0: shrink from ${256 * MiB} to ${128 * MiB} bytes refused`);
    expect(logged(proc, 'config reloaded')).toHaveLength(1);
    expect(await totalSize(port, 0)).toBe(256 * MiB);

    // LUN 1 removed and the alias changed, both live; a memory change is written but waits for a restart.
    writeFileSync(cfg, configText(port, [fileLun(dir, 0, '256MiB')], '    alias: renamed', 'memory: { poolPages: 64 }'));
    proc.child.kill('SIGHUP');
    await waitUntil(() => logged(proc!, 'config reloaded').length === 2, '"config reloaded" logged 2 times');
    expect(logged(proc, 'config reloaded')[1]).toMatchObject({
      applied: 2,
      steps: [`change target ${IQN}: alias`, `remove ${IQN} LUN 1`],
      needsRestart: ['memory.poolPages changed'],
    });
    expect(logged(proc, 'config change needs a restart')[0]).toMatchObject({ level: 40, change: 'memory.poolPages changed' });
    const gone = await run('iscsi-readcapacity16', [`iscsi://127.0.0.1:${port}/${IQN}/1`]);
    expect(gone.code).not.toBe(0);
    expect(await totalSize(port, 0)).toBe(256 * MiB);

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }, 60_000);

  it.skipIf(!loopAvailable())('re-reads a block LUN whose device grew (losetup -c)', async () => {
    const loop = createLoop(16 * MiB);
    try {
      dir = scratchDir('scatter-reload-');
      const port = await freePort();
      const cfg = join(dir, 'scatter.yaml');
      writeFileSync(cfg, configText(port, [`{ lun: 0, backstore: { type: block, path: ${loop.dev} } }`]));
      proc = startCli(['serve', '--config', cfg]);
      await waitUntil(() => proc!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
      expect(await totalSize(port, 0)).toBe(16 * MiB);
      truncateSync(loop.file, 48 * MiB);
      execFileSync(findTool('losetup')!, ['-c', loop.dev]);
      proc.child.kill('SIGHUP');
      await waitUntil(() => logged(proc!, 'config reloaded').length === 1, '"config reloaded" logged once');
      expect(logged(proc, 'LUN resized')[0]).toMatchObject({ lun: 0, oldSize: 16 * MiB, newSize: 48 * MiB });
      expect(await totalSize(port, 0)).toBe(48 * MiB);
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    } finally {
      proc?.child.kill('SIGKILL');
      loop.detach();
    }
  }, 60_000);
});
