/**
 * SCATTER_PORTAL / SCATTER_ADMIN / SCATTER_DATA_DIR read, validated with the config's own rules,
 * laid over a config, kept out of the file, and pinned against API changes.
 */
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataDir, resolveDataPath, setDataDir } from '../../../src/config/data-dir.js';
import {
  applyEnvOverrides,
  pinnedConflicts,
  readEnvOverrides,
  withFileValues,
  type EnvOverrides,
} from '../../../src/config/env-overrides.js';
import { splitAddress } from '../../../src/config/env-vars.js';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const FILE = [
  'iscsi: { portals: [ { host: 127.0.0.1, port: 3260 } ] }',
  'admin: { host: 127.0.0.1, port: 9470 }',
  'targets:',
  '  - iqn: iqn.2026-11.io.scatter:env',
  '    luns: [ { lun: 0, backstore: { type: file, path: ./data/lun0.img, size: 1GiB } } ]',
].join('\n');

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no ConfigError thrown');
}

describe('readEnvOverrides', () => {
  it('sets nothing when the variables are unset or empty', () => {
    expect(readEnvOverrides({})).toEqual({ variables: {} });
    expect(readEnvOverrides({ SCATTER_PORTAL: '', SCATTER_ADMIN: '  ', SCATTER_DATA_DIR: '' })).toEqual({ variables: {} });
  });

  it('reads HOST:PORT, [IPV6]:PORT, a host alone (default port) and a list of portals', () => {
    const o = readEnvOverrides({ SCATTER_PORTAL: '0.0.0.0:3261, [::1]:3262,10.0.0.1', SCATTER_ADMIN: '::', SCATTER_DATA_DIR: '/data' });
    expect(o.portals).toEqual([
      { host: '0.0.0.0', port: 3261 },
      { host: '::1', port: 3262 },
      { host: '10.0.0.1', port: 3260 },
    ]);
    expect(o.admin).toEqual({ host: '::', port: 9470 });
    expect(o.dataDir).toBe('/data');
    expect(o.variables).toEqual({ SCATTER_PORTAL: '0.0.0.0:3261, [::1]:3262,10.0.0.1', SCATTER_ADMIN: '::', SCATTER_DATA_DIR: '/data' });
  });

  it.each([
    ['SCATTER_PORTAL', 'nonsense', 'host must be an IPv4 or IPv6 address'],
    ['SCATTER_PORTAL', '0.0.0.0:abc', 'port "abc" is not a number'],
    ['SCATTER_PORTAL', '0.0.0.0:70000', 'port must be a whole number from 1 to 65535'],
    ['SCATTER_PORTAL', ':3260', 'no host before the port'],
    ['SCATTER_PORTAL', '0.0.0.0:3260,', 'empty address'],
    ['SCATTER_ADMIN', 'localhost:9470', 'host must be an IPv4 or IPv6 address'],
    ['SCATTER_ADMIN', '0.0.0.0:1,0.0.0.0:2', 'names one address, not a list'],
  ])('%s=%s is refused naming the variable', (name, value, why) => {
    const err = configError(() => readEnvOverrides({ [name]: value }));
    expect(err.message).toMatch(new RegExp(`^environment: ${name}: `));
    expect(err.message).toContain(why);
  });

  it('reports every bad variable at once', () => {
    const err = configError(() => readEnvOverrides({ SCATTER_PORTAL: 'nonsense', SCATTER_ADMIN: 'x:1' }));
    expect(err.issues.map((i) => i.path)).toEqual(['SCATTER_PORTAL', 'SCATTER_ADMIN']);
  });
});

describe('splitAddress', () => {
  it('splits the written forms without judging them', () => {
    expect(splitAddress('1.2.3.4:5')).toEqual({ host: '1.2.3.4', port: 5 });
    expect(splitAddress('[fe80::1]')).toEqual({ host: 'fe80::1', port: undefined });
    expect(splitAddress('fe80::1')).toEqual({ host: 'fe80::1', port: undefined });
    expect(splitAddress('[::]:')).toMatch(/not a number/);
  });
});

describe('applyEnvOverrides, withFileValues, pinnedConflicts', () => {
  const file = parseConfig(FILE, 'scatter.yaml');
  const env: EnvOverrides = readEnvOverrides({ SCATTER_PORTAL: '0.0.0.0:3260', SCATTER_ADMIN: '0.0.0.0:9471' });

  it('without variables the config is unchanged', () => {
    expect(applyEnvOverrides(file, readEnvOverrides({}), 'scatter.yaml')).toBe(file);
  });

  it('lays the portals and the admin address over the file, and turns the admin listener on', () => {
    const off = parseConfig(`${FILE.replace('admin: { host: 127.0.0.1, port: 9470 }', 'admin: { enabled: false }')}`, 'scatter.yaml');
    const c = applyEnvOverrides(off, env, 'scatter.yaml');
    expect(c.iscsi.portals).toEqual([{ host: '0.0.0.0', port: 3260 }]);
    expect(c.admin).toMatchObject({ enabled: true, host: '0.0.0.0', port: 9471 });
    expect(c.targets).toEqual(off.targets);
  });

  it('a clash the environment makes is a config error naming the variables', () => {
    const clash = readEnvOverrides({ SCATTER_ADMIN: '0.0.0.0:3260' });
    const err = configError(() => applyEnvOverrides(file, clash, 'scatter.yaml'));
    expect(err.message).toBe('scatter.yaml with SCATTER_ADMIN from the environment: admin.port: 3260 is already an iSCSI portal port');
  });

  it('writes the file with its own portal and admin values, whatever else changed', () => {
    const running = applyEnvOverrides(file, env, 'scatter.yaml');
    const next = { ...running, targets: [{ ...running.targets[0]!, alias: 'new' }] };
    const written = withFileValues(next, file, env);
    expect(written.iscsi.portals).toEqual(file.iscsi.portals);
    expect(written.admin).toEqual(file.admin);
    expect(written.targets[0]!.alias).toBe('new');
  });

  it('refuses a change of what the environment sets, and nothing else', () => {
    const running = applyEnvOverrides(file, env, 'scatter.yaml');
    expect(pinnedConflicts(running, { ...running, targets: [] }, env)).toEqual([]);
    const portal = { ...running, iscsi: { ...running.iscsi, portals: [...running.iscsi.portals, { host: '127.0.0.2', port: 3260 }] } };
    expect(pinnedConflicts(running, portal, env)).toEqual([
      'iscsi.portals is set by SCATTER_PORTAL=0.0.0.0:3260 in the environment; unset it and restart Scatter to change this through the config',
    ]);
    const admin = { ...running, admin: { ...running.admin, port: 9999 } };
    expect(pinnedConflicts(running, admin, env)[0]).toMatch(/^admin.enabled, admin.host and admin.port are set by SCATTER_ADMIN=0.0.0.0:9471/);
    expect(pinnedConflicts(running, portal, readEnvOverrides({ SCATTER_DATA_DIR: '/data' }))).toEqual([]);
  });
});

describe('the data directory', () => {
  afterEach(() => setDataDir(undefined));

  it('moves ./data/... and nothing else', () => {
    expect(resolveDataPath('./data/lun0.img', '/vol')).toBe('/vol/lun0.img');
    expect(resolveDataPath('data/state', '/vol')).toBe('/vol/state');
    expect(resolveDataPath('./data', '/vol')).toBe('/vol');
    expect(resolveDataPath('./database/x', '/vol')).toBe(resolve('database/x'));
    expect(resolveDataPath('./data/../etc/x', '/vol')).toBe(resolve('etc/x'));
    expect(resolveDataPath('/srv/data/x.img', '/vol')).toBe('/srv/data/x.img');
    expect(resolveDataPath('./data/lun0.img', undefined)).toBe(resolve('data/lun0.img'));
  });

  it('once set, every path the config validates resolves there: LUNs, the default stateDir, the token', () => {
    setDataDir('/vol');
    expect(dataDir()).toBe('/vol');
    const c = parseConfig(FILE, 'scatter.yaml');
    expect(c.targets[0]!.luns[0]!.backstore).toMatchObject({ path: '/vol/lun0.img' });
    expect(c.stateDir).toBe('/vol/state');
    setDataDir(undefined);
    expect(parseConfig(FILE, 'scatter.yaml').stateDir).toBe(join(process.cwd(), 'data/state'));
  });
});
