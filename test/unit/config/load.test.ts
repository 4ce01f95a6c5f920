import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/shared/atomic-write.js';
import { ConfigError, loadConfig, parseConfig, saveConfig, stringifyConfig, type Config } from '../../../src/config/load.js';

const DEFAULT_CONFIG = fileURLToPath(new URL('../../../config/scatter.yaml', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sample(): Config {
  return parseConfig(
    [
      'logLevel: debug',
      'iscsi: { portals: [ { host: 0.0.0.0, port: 3261 }, { host: "::", port: 3261 } ], maxBurstLength: 512K }',
      'memory: { pageSize: 128K, poolPages: 64 }',
      'targets:',
      '  - iqn: iqn.2026-11.io.scatter:a',
      '    alias: first',
      '    auth: { method: chap, user: alice, secret: alice-secret-1, mutualUser: tgt, mutualSecret: target-secret-1 }',
      '    luns:',
      '      - { lun: 0, backstore: { type: file, path: /srv/a.img, size: 3G, blockSize: 4096, writeCache: false } }',
      '      - { lun: 5, readOnly: true, serial: S5, backstore: { type: null, size: 1000960 } }',
      '      - { lun: 6, backstore: { type: block, path: /dev/loop7 } }',
      '  - iqn: eui.0123456789abcdef',
      'discoveryAuth: { method: chap, user: disco, secret: discovery-secret, algorithms: [7] }',
    ].join('\n'),
    'sample',
  );
}

describe('the shipped config/scatter.yaml', () => {
  it('loads, and describes one target with a 1 GiB file LUN on loopback without auth', async () => {
    const config = await loadConfig(DEFAULT_CONFIG);
    expect(config.logLevel).toBe('info');
    expect(config.iscsi.portals).toEqual([{ host: '127.0.0.1', port: 3260 }]);
    expect(config.discoveryAuth).toEqual({ method: 'none' });
    expect(config.targets).toHaveLength(1);
    const target = config.targets[0];
    expect(target?.iqn).toBe('iqn.2026-11.io.scatter:default');
    expect(target?.auth).toEqual({ method: 'none' });
    expect(target?.luns).toHaveLength(1);
    expect(target?.luns[0]).toMatchObject({
      lun: 0,
      readOnly: false,
      backstore: { type: 'file', path: resolve('data/lun0.img'), size: 2 ** 30, blockSize: 512, writeCache: true },
    });
  });

  it('states every default explicitly (the file and the schema agree)', async () => {
    const config = await loadConfig(DEFAULT_CONFIG);
    const defaults = parseConfig('', 'empty');
    expect(config.iscsi).toEqual(defaults.iscsi);
    expect(config.memory).toEqual(defaults.memory);
  });
});

describe('loadConfig', () => {
  it('names the file in every error', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'memory: { poolPages: -1 }\n');
    await expect(loadConfig(file)).rejects.toThrow(`${file}: memory.poolPages: must be a whole number`);
  });

  it('reports a missing file as a ConfigError', async () => {
    const file = join(dir, 'missing.yaml');
    const err: unknown = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as ConfigError).message)).toMatch(new RegExp(`^${file}: \\(file\\): cannot read: ENOENT`));
  });
});

describe('saveConfig', () => {
  it('round-trips: what is saved loads back equal', async () => {
    const file = join(dir, 'scatter.yaml');
    const config = sample();
    await saveConfig(file, config);
    expect(await loadConfig(file)).toEqual(config);
  });

  it('writes sizes with units and keeps the null type a string', async () => {
    const text = stringifyConfig(sample());
    expect(text).toMatch(/size: 3GiB/);
    expect(text).toMatch(/size: 1000960/);
    expect(text).toMatch(/pageSize: 128KiB/);
    expect(text).toMatch(/type: "null"/);
  });

  it('replaces an existing file, keeps its mode and leaves no temporary file', async () => {
    const file = join(dir, 'scatter.yaml');
    await writeFile(file, 'logLevel: warn\n');
    await chmod(file, 0o640);
    await saveConfig(file, sample());
    expect((await loadConfig(file)).logLevel).toBe('debug');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['scatter.yaml']);
  });

  it('creates a new file readable by the owner only (it may hold CHAP secrets)', async () => {
    const file = join(dir, 'new.yaml');
    await saveConfig(file, sample());
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('writes nothing when the config is invalid', async () => {
    const file = join(dir, 'scatter.yaml');
    await writeFile(file, 'logLevel: warn\n');
    const bad = sample();
    bad.iscsi.firstBurstLength = bad.iscsi.maxBurstLength + 512;
    await expect(saveConfig(file, bad)).rejects.toThrow(`${file}: iscsi.firstBurstLength: must not exceed maxBurstLength`);
    expect(await readFile(file, 'utf8')).toBe('logLevel: warn\n');
    expect(await readdir(dir)).toEqual(['scatter.yaml']);
  });

  it('replaces the file a symlink points to, not the link', async () => {
    const real = join(dir, 'real.yaml');
    const link = join(dir, 'link.yaml');
    await writeFile(real, 'logLevel: warn\n');
    await symlink(real, link);
    await saveConfig(link, sample());
    expect((await loadConfig(real)).logLevel).toBe('debug');
    expect((await loadConfig(link)).logLevel).toBe('debug');
    expect((await readdir(dir)).sort()).toEqual(['link.yaml', 'real.yaml']);
  });
});

describe('writeFileAtomic', () => {
  it('removes its temporary file when the rename fails', async () => {
    // Renaming a file over a non-empty directory fails (EISDIR/ENOTEMPTY).
    const target = join(dir, 'occupied');
    await mkdir(join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['occupied']);
  });
});
