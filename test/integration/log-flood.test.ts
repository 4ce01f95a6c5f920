/**
 * A peer cannot flood the log (issue #9, item 24): warnings it causes are rate-limited per source
 * address and bounded in size. Run against the real CLI, whose stdout is the log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startCli, writeServeConfig, type CliProc } from '../helpers/cli-proc.js';
import { TestInitiator } from '../helpers/initiator.js';
import { waitUntil } from '../helpers/wait.js';

describe('log flood from one peer', () => {
  let dir = '';
  let proc: CliProc | undefined;
  afterEach(() => {
    proc?.child.kill('SIGKILL');
    proc = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('500 PDUs the target must reject give a handful of warning lines, each of bounded size', async () => {
    dir = mkdtempSync(join(tmpdir(), 'scatter-log-'));
    const port = await freePort();
    const adminPort = await freePort();
    const cfg = writeServeConfig(dir, {
      port,
      adminPort,
      iqn: 'iqn.2026-11.io.scatter:log',
      iscsi: 'nopInInterval: 0',
      luns: ['{ lun: 0, backstore: { type: null, size: 1GiB } }'],
    });
    proc = startCli(['serve', '--config', cfg]);
    await waitUntil(() => proc!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
    const i = await TestInitiator.connect(port);
    expect((await i.login({ targetName: 'iqn.2026-11.io.scatter:log' })).status).toEqual([0, 0]);
    const junk = Buffer.alloc(48);
    junk[0] = 0x1e; // an opcode no initiator may send: Reject, Command not supported
    i.sendRaw(Buffer.concat(Array.from({ length: 500 }, () => junk)));
    let rejects = 0;
    while (rejects < 500) {
      await i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x3f);
      rejects++;
    }
    await i.nop();
    i.close();
    const lines = proc.stdout.split('\n').filter((l) => l.startsWith('{'));
    const warnings = lines.map((l) => JSON.parse(l) as { msg: string }).filter((l) => l.msg === 'rejecting PDU');
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(10);
    for (const l of lines) expect(l.length).toBeLessThan(2048);
  });
});
