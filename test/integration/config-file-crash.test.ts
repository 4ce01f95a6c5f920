/**
 * kill -9 during a burst of config commits (the built dist/, `npm run build` first): the file must
 * always be one of the committed versions (the last acknowledged or the one in flight, never torn),
 * a restart must come back to exactly it, and the backups must be whole earlier versions.
 *
 * The files live in /dev/shm when there is one: SIGKILL leaves the page cache intact, so what is
 * tested is the rename's atomicity, not the fsyncs (those matter for power loss), and tmpfs keeps
 * 20 trials within seconds.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigFile } from '../../src/config/config-file.js';
import { parseConfig } from '../../src/config/load.js';
import { configRevision } from '../../src/config/revision.js';

const CHILD = join(process.cwd(), 'test/helpers/config-commits.mjs');
const BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Run the child, SIGKILL it as soon as `killAfter` commits are acknowledged; every acknowledgement it printed. */
async function commitAndKill(path: string, killAfter: number): Promise<Map<number, string>> {
  const child = spawn(process.execPath, [CHILD, path, '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const acks = new Map<number, string>();
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: child.stdout })) {
    const [n, revision] = line.split(' ');
    acks.set(Number(n), revision ?? '');
    if (acks.size === killAfter) child.kill('SIGKILL');
  }
  const signal = await exited;
  if (signal !== 'SIGKILL') throw new Error(`the child ended by itself (${String(signal)}): ${stderr}`);
  return acks;
}

describe('a config file under kill -9', () => {
  it('is always a committed version, and a restart reads exactly that version', async () => {
    for (let trial = 0; trial < 20; trial++) {
      const dir = await mkdtemp(join(BASE, 'scatter-crash-'));
      dirs.push(dir);
      const path = join(dir, 'scatter.yaml');
      await writeFile(
        path,
        [
          '# crash test',
          `stateDir: ${join(dir, 'state')}`,
          'targets:',
          '  - iqn: iqn.2026-12.io.scatter:crash   # the one',
          '    alias: n0',
          '    luns:',
          '      - { lun: 0, backstore: { type: null, size: 1GiB } }',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      const killAfter = 1 + Math.floor((trial * trial) / 8); // 1 .. 46: before and after pruning starts
      const acks = await commitAndKill(path, killAfter);
      const lastAck = Math.max(...acks.keys());
      expect(lastAck).toBeGreaterThanOrEqual(killAfter);
      expect(lastAck).toBeLessThan(200);

      // The file as the kill left it: whole, valid, the last acknowledged version or the next one.
      const onDisk = parseConfig(await readFile(path, 'utf8'), path);
      const version = Number(onDisk.targets[0]?.alias?.slice(1));
      expect([lastAck, lastAck + 1]).toContain(version);
      if (version === lastAck) expect(configRevision(onDisk)).toBe(acks.get(lastAck));

      // Backups: at most 10 kept plus the one written before the kill; each the version its commit replaced.
      const backupDir = `${path}.backups`;
      const named = (await readdir(backupDir)).filter((name) => name.startsWith('scatter.yaml.'));
      expect(named.length).toBeLessThanOrEqual(11);
      const restarted = await ConfigFile.open(path);
      const backups = await restarted.listBackups();
      expect(backups.map((b) => b.name).sort()).toEqual([...named].sort());
      for (const backup of backups) {
        const config = parseConfig(await readFile(backup.path, 'utf8'), backup.path);
        expect(config.targets[0]?.alias).toBe(`n${backup.sequence - 1}`);
      }
      // The restart: exactly the state on disk, and the temporary files of the killed writer gone.
      expect(restarted.current).toEqual(onDisk);
      expect(restarted.revision).toBe(configRevision(onDisk));
      expect((await readdir(dir)).sort()).toEqual(['scatter.yaml', 'scatter.yaml.backups']);
      expect((await readdir(backupDir)).sort()).toEqual([...named].sort());
      // And it goes on from there.
      const next = structuredClone(restarted.current);
      next.targets[0]!.alias = 'after-restart';
      await restarted.commit(next);
      expect(parseConfig(await readFile(path, 'utf8'), path).targets[0]?.alias).toBe('after-restart');
    }
  }, 120_000);
});
