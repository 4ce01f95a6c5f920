import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigFile, ConfigFileChangedError } from '../../../src/config/config-file.js';
import { ConfigError, parseConfig, validateConfig, type Config } from '../../../src/config/load.js';
import { configRevision } from '../../../src/config/revision.js';

const SHIPPED = fileURLToPath(new URL('../../../config/scatter.yaml', import.meta.url));

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-config-file-'));
  path = join(dir, 'scatter.yaml');
  await writeFile(path, await readFile(SHIPPED, 'utf8'), { mode: 0o600 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function withAlias(config: Config, alias: string): Config {
  const next = structuredClone(config);
  next.targets[0]!.alias = alias;
  return next;
}

function aliasOf(text: string): string | undefined {
  return parseConfig(text, 'x').targets[0]?.alias;
}

describe('ConfigFile', () => {
  it('opens the file with its config and a revision that depends only on the content', async () => {
    const file = await ConfigFile.open(path);
    expect(file.current).toEqual(parseConfig(await readFile(SHIPPED, 'utf8'), 'x'));
    expect(file.revision).toMatch(/^[0-9a-f]{16}$/);
    expect(file.revision).toBe(configRevision(file.current));
    expect((await ConfigFile.open(path)).revision).toBe(file.revision);
    // Key order does not matter; content does.
    expect(configRevision({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(configRevision({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(configRevision({ a: 1 })).not.toBe(configRevision({ a: 2 }));
  });

  it('commits by replacing the file (a new inode), only the changed line rewritten, and keeps its mode', async () => {
    await chmod(path, 0o640);
    const original = await readFile(path, 'utf8');
    const inode = (await stat(path)).ino;
    const file = await ConfigFile.open(path);
    const result = await file.commit(withAlias(file.current, 'renamed'));
    expect(result.changed).toBe(true);
    expect(result.warning).toBeUndefined();
    const text = await readFile(path, 'utf8');
    expect(text).toBe(original.replace('alias: scatter-default', 'alias: renamed'));
    expect(file.text).toBe(text);
    expect(file.revision).toBe(result.revision);
    expect(result.revision).toBe((await ConfigFile.open(path)).revision);
    const st = await stat(path);
    expect(st.ino).not.toBe(inode);
    expect(st.mode & 0o777).toBe(0o640);
    // No temporary file left beside it; the backup holds the old text, mode 0600.
    expect((await readdir(dir)).sort()).toEqual(['scatter.yaml', 'scatter.yaml.backups']);
    const [backup] = await file.listBackups();
    expect(backup).toBeDefined();
    expect(await readFile(backup!.path, 'utf8')).toBe(original);
    expect((await stat(backup!.path)).mode & 0o777).toBe(0o600);
    expect(backup!.path).toBe(result.backup);
    expect(backup!.name).toMatch(/^scatter\.yaml\.000001\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z$/);
    expect(backup!.size).toBe(Buffer.byteLength(original));
    expect(Math.abs(backup!.time.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('keeps the 10 newest backups, newest first, each the version its commit replaced', async () => {
    const file = await ConfigFile.open(path);
    for (let i = 1; i <= 13; i++) await file.commit(withAlias(file.current, `v${i}`));
    const backups = await file.listBackups();
    expect(backups.map((b) => b.sequence)).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 4]);
    for (const backup of backups) {
      expect(aliasOf(await readFile(backup.path, 'utf8'))).toBe(`v${backup.sequence - 1}`);
    }
    expect(await readdir(join(dir, 'scatter.yaml.backups'))).toHaveLength(10);
    expect(aliasOf(await readFile(path, 'utf8'))).toBe('v13');
  });

  it('runs concurrent commits one after another, in call order', async () => {
    const file = await ConfigFile.open(path);
    const base = file.current;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => file.commit(withAlias(base, `c${i}`))));
    expect(results.map((r) => r.config.targets[0]!.alias)).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
    expect(aliasOf(await readFile(path, 'utf8'))).toBe('c19');
    const backups = await file.listBackups();
    expect(backups).toHaveLength(10);
    // Backup n holds what commit n replaced: commit n-1's config, whole and valid.
    for (const backup of backups) {
      const text = await readFile(backup.path, 'utf8');
      expect(parseConfig(text, backup.name)).toEqual(withAlias(base, `c${backup.sequence - 2}`));
    }
  });

  it('refuses to overwrite an edit made on disk, until the file is read again', async () => {
    const file = await ConfigFile.open(path);
    const edited = (await readFile(path, 'utf8')).replace('logLevel: info', 'logLevel: debug');
    await writeFile(path, edited);
    const attempt = file.commit(withAlias(file.current, 'mine'));
    await expect(attempt).rejects.toBeInstanceOf(ConfigFileChangedError);
    await expect(attempt).rejects.toMatchObject({ code: 'CONFIG_CHANGED' });
    expect(await readFile(path, 'utf8')).toBe(edited);
    expect(await file.listBackups()).toEqual([]);

    expect((await file.reread()).logLevel).toBe('debug');
    await file.commit(withAlias(file.current, 'mine'));
    const now = parseConfig(await readFile(path, 'utf8'), 'x');
    expect(now.logLevel).toBe('debug');
    expect(now.targets[0]!.alias).toBe('mine');
  });

  it('keeps its state when a reread finds an invalid file, and commits nothing over it', async () => {
    const file = await ConfigFile.open(path);
    const revision = file.revision;
    await writeFile(path, 'logLevel: loud\n');
    await expect(file.reread()).rejects.toBeInstanceOf(ConfigError);
    expect(file.revision).toBe(revision);
    await expect(file.commit(withAlias(file.current, 'x'))).rejects.toBeInstanceOf(ConfigFileChangedError);
    expect(await readFile(path, 'utf8')).toBe('logLevel: loud\n');
  });

  it('writes nothing for an invalid config or an unchanged one', async () => {
    const file = await ConfigFile.open(path);
    const before = await readFile(path, 'utf8');
    await expect(file.commit({ ...file.current, logLevel: 'loud' })).rejects.toBeInstanceOf(ConfigError);
    const same = await file.commit(structuredClone(file.current));
    expect(same.changed).toBe(false);
    expect(same.revision).toBe(file.revision);
    expect(await readFile(path, 'utf8')).toBe(before);
    expect(await file.listBackups()).toEqual([]);
    // A commit after a failed one still runs.
    expect((await file.commit(withAlias(file.current, 'after'))).changed).toBe(true);
  });

  it('rewrites the file whole, with a warning, when a splice would change more than asked (an anchor)', async () => {
    const text = [
      '# shared auth',
      'targets:',
      '  - iqn: iqn.2026-12.io.scatter:a',
      '    auth: &shared { method: none }',
      '  - iqn: iqn.2026-12.io.scatter:b',
      '    auth: *shared',
      '',
    ].join('\n');
    await writeFile(path, text);
    const file = await ConfigFile.open(path);
    const next = structuredClone(file.current);
    next.targets[0]!.auth = { method: 'chap', user: 'u', secret: 'twelve-bytes', algorithms: [7] };
    const result = await file.commit(next);
    expect(result.warning).toMatch(/rewritten whole/);
    const written = parseConfig(await readFile(path, 'utf8'), 'x');
    expect(written).toEqual(validateConfig(next, 'x'));
    expect(written.targets[1]!.auth).toEqual({ method: 'none' });
  });

  it('creates backups 0600 even when the file itself is more open', async () => {
    await chmod(path, 0o644);
    const file = await ConfigFile.open(path);
    await file.commit(withAlias(file.current, 'x'));
    const [backup] = await file.listBackups();
    expect((await stat(backup!.path)).mode & 0o777).toBe(0o600);
    expect((await stat(path)).mode & 0o777).toBe(0o644);
  });
});
