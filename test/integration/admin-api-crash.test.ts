/**
 * kill -9 during a burst of API changes, 20 times: after each restart the config file loads, and
 * what runs is one of the changes the API acknowledged (or the one in flight at the kill), never a
 * torn or older file; the backups beside it stay bounded. The file lives on /dev/shm when there is
 * one (SIGKILL keeps the page cache, so this tests the atomic replace, not power loss).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { freePort, startCli, type CliProc } from '../helpers/cli-proc.js';
import { waitUntil } from '../helpers/wait.js';

const IQN = 'iqn.2026-11.io.scatter:crash';
const TRIALS = 20;
const CHANGES = 200;

describe('admin API changes under kill -9', () => {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'scatter-api-crash-'));
  const cfg = join(dir, 'scatter.yaml');
  let serve: CliProc | undefined;
  afterAll(() => {
    serve?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${TRIALS} kills at varying points of ${CHANGES} rapid changes: every restart serves an acknowledged (or the in-flight) version`, async () => {
    const port = await freePort();
    const adminPort = await freePort();
    writeFileSync(
      cfg,
      [
        '# crash test: the alias of the target counts the changes',
        'logLevel: warn',
        'stateDir: ./state',
        `iscsi: { portals: [ { host: 127.0.0.1, port: ${port} } ], nopInInterval: 0 }`,
        `admin: { host: 127.0.0.1, port: ${adminPort} }`,
        'targets:',
        `  - iqn: ${IQN}`,
        '    alias: v0',
        '',
      ].join('\n'),
    );
    let acknowledged = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      serve = startCli(['serve', '--config', cfg], { cwd: dir });
      // logLevel warn: wait for the admin port instead of the "serving" line.
      const tokenFile = join(dir, 'state', 'admin-token');
      await waitUntil(() => existsSync(tokenFile) && readFileSync(tokenFile, 'utf8').trim() !== '', 'the admin token file');
      const token = readFileSync(tokenFile, 'utf8').trim();
      const api = `http://127.0.0.1:${adminPort}/v1/targets/${encodeURIComponent(IQN)}`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      let current: { alias: string } | undefined;
      await waitUntil(async () => {
        try {
          const r = await fetch(api, { headers });
          if (r.status === 200) current = (await r.json()) as { alias: string };
        } catch {
          // not listening yet
        }
        return current !== undefined;
      }, 'the admin API answering');
      // What came back is the last acknowledged change, or the one in flight when the process died.
      const alias = Number(current!.alias.slice(1));
      expect([acknowledged, acknowledged + 1], `trial ${trial}`).toContain(alias);
      acknowledged = alias;
      // The file is valid and says the same.
      expect(parseConfig(readFileSync(cfg, 'utf8'), cfg).targets[0]!.alias).toBe(`v${alias}`);
      expect(readFileSync(cfg, 'utf8')).toContain('# crash test: the alias of the target counts the changes');

      // A burst: each change waits for the previous answer; kill -9 after a varying number of them.
      const killAfter = 1 + ((trial * 37) % (CHANGES - 1));
      for (let n = 1; n <= CHANGES; n++) {
        const sent = fetch(api, { method: 'PATCH', headers, body: JSON.stringify({ alias: `v${acknowledged + 1}` }) });
        if (n === killAfter + 1) {
          // Kill while this one is in flight.
          serve.child.kill('SIGKILL');
          await sent.catch(() => undefined);
          break;
        }
        const res = await sent;
        expect(res.status).toBe(200);
        acknowledged++;
      }
      if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
      await serve.exited;
      serve = undefined;
      const backups = readdirSync(join(dir, 'scatter.yaml.backups'));
      expect(backups.length).toBeLessThanOrEqual(11);
    }
  }, 300_000);
});
