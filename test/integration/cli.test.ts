import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, freePort, scratchDir, startCli, writeServeConfig, type CliProc } from '../helpers/cli-proc.js';
import { TestInitiator } from '../helpers/initiator.js';
import { inquiry } from '../helpers/cdb.js';
import { waitUntil } from '../helpers/wait.js';

describe('scatter serve (the built CLI)', () => {
  let dir: string;
  let proc: CliProc | undefined;
  cliSuite();

  it('stops start-up on an invalid config with a message naming the field', async () => {
    dir = scratchDir('scatter-cli-');
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(
      cfg,
      `targets:\n  - iqn: iqn.2026-11.io.scatter:x\n    luns:\n      - { lun: 0, backstore: { type: file, path: ${dir}/x.img, size: 1000 } }\n`,
    );
    proc = startCli(['serve', '--config', cfg]);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr).toContain('targets[0].luns[0].backstore.size: must be a multiple of blockSize (512)');
    expect(existsSync(join(dir, 'x.img'))).toBe(false);
  });

  it('serves a sparse file LUN, and on SIGTERM asks initiators to log out and exits 0', async () => {
    dir = scratchDir('scatter-cli-');
    const port = await freePort();
    const adminPort = await freePort();
    const cfg = writeServeConfig(dir, {
      port,
      adminPort,
      iqn: 'iqn.2026-11.io.scatter:cli',
      head: ['logLevel: info'],
      luns: [`{ lun: 0, backstore: { type: file, path: ${dir}/data/lun0.img, size: 1GiB } }`],
    });
    proc = startCli(['serve', '--config', cfg]);
    await waitUntil(() => proc!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
    const img = statSync(join(dir, 'data/lun0.img'));
    expect(img.size).toBe(1024 ** 3);
    expect(img.blocks * 512).toBeLessThan(1024 * 1024); // sparse
    const i = await TestInitiator.connect(port);
    expect((await i.login({ targetName: 'iqn.2026-11.io.scatter:cli' })).status).toEqual([0, 0]);
    expect((await i.command({ cdb: inquiry(36), read: 36 })).status).toBe(0);
    // The admin listener of the real process counts that INQUIRY.
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    expect(metrics).toContain('scatter_scsi_commands_total{target="iqn.2026-11.io.scatter:cli",class="other"} 1');
    const logoutRequest = i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x32 && p.bhs[36] === 1);
    proc.child.kill('SIGTERM');
    await logoutRequest;
    expect(await i.logout()).toBe(0);
    expect(await proc.exited).toBe(0);
    expect(proc.stdout).toContain('"msg":"stopped"');
  });

  it('keeps serving after a promise rejection nobody handles, and logs it as a bug', async () => {
    dir = scratchDir('scatter-cli-');
    const port = await freePort();
    const adminPort = await freePort();
    const cfg = writeServeConfig(dir, { port, adminPort, iqn: 'iqn.2026-11.io.scatter:cli', luns: ['{ lun: 0, backstore: { type: null, size: 1GiB } }'] });
    // A module loaded before the CLI leaves a rejected promise behind on SIGUSR2, as a bug would.
    const probe = `process.on('SIGUSR2', () => { Promise.reject(new Error('probe: nobody handles this')); });`;
    proc = startCli(['serve', '--config', cfg], { nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(probe)}`] });
    await waitUntil(() => proc!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
    proc.child.kill('SIGUSR2');
    await waitUntil(() => proc!.stdout.includes('unhandled promise rejection (a bug); still serving'), '"unhandled promise rejection (a bug); still serving" logged');
    const i = await TestInitiator.connect(port);
    expect((await i.login({ targetName: 'iqn.2026-11.io.scatter:cli' })).status).toEqual([0, 0]);
    expect((await i.command({ cdb: inquiry(36), read: 36 })).status).toBe(0);
    expect(proc.stdout).toContain('probe: nobody handles this');
    i.close();
  });
});
