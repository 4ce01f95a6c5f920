/**
 * `scatter serve` configured by the environment, as the container runs it: SCATTER_PORTAL and
 * SCATTER_ADMIN move the listeners, SCATTER_DATA_DIR the `./data/...` paths, over what the file
 * says; at start, through the admin API and CLI, and across a SIGHUP reload. A malformed value
 * stops the start with a message naming the variable, no stack trace.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, freePort, scratchDir, logged, startCli, type CliProc } from '../helpers/cli-proc.js';
import { TestInitiator } from '../helpers/initiator.js';
import { waitUntil } from '../helpers/wait.js';

const IQN = 'iqn.2026-11.io.scatter:env';
const MiB = 1024 * 1024;

/** The test's environment without any SCATTER_* a developer's shell may carry. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SCATTER_')) env[k] = v;
  return { ...env, ...extra };
}

/** True when nothing listens on 127.0.0.1:port (the connection is refused). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
  } catch {
    return false;
  }
}

/** Wait until the admin listener answers, failing at once should the process exit. */
async function untilHealthy(p: CliProc, port: number): Promise<void> {
  let code: number | null | undefined;
  void p.exited.then((c) => (code = c));
  await waitUntil(async () => {
    if (code !== undefined) throw new Error(`scatter exited (${code}): ${p.stderr}${p.stdout}`);
    return healthy(port);
  }, `GET /healthz answers on ${port}`);
}

async function login(port: number): Promise<[number, number]> {
  const i = await TestInitiator.connect(port);
  try {
    return (await i.login({ targetName: IQN })).status;
  } finally {
    i.close();
  }
}

let dir: string | undefined;
let proc: CliProc | undefined;

/** dir/cfg/scatter.yaml: the file's own portal and admin ports, a LUN at ./data/lun0.img. */
function writeConfig(filePort: number, fileAdmin: number): string {
  mkdirSync(join(dir!, 'cfg'));
  mkdirSync(join(dir!, 'work'));
  const path = join(dir!, 'cfg', 'scatter.yaml');
  const text = [
    'logLevel: info',
    `iscsi: { portals: [ { host: 127.0.0.1, port: ${filePort} } ], nopInInterval: 0 }`,
    `admin: { host: 127.0.0.1, port: ${fileAdmin} }`,
    'targets:',
    `  - iqn: ${IQN}`,
    '    luns:',
    '      - { lun: 0, backstore: { type: file, path: ./data/lun0.img, size: 64MiB } }',
    '',
  ].join('\n');
  writeFileSync(path, text);
  return path;
}

describe('scatter serve under SCATTER_PORTAL / SCATTER_ADMIN / SCATTER_DATA_DIR', () => {
  cliSuite();

  it('listens where the environment says and keeps ./data under SCATTER_DATA_DIR; the API cannot move what it pins, nor does the file learn it; SIGHUP keeps it', async () => {
    dir = scratchDir('scatter-env-');
    const [port, adminPort, filePort, fileAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const cfg = writeConfig(filePort, fileAdmin);
    const vol = join(dir, 'vol');
    const work = join(dir, 'work');
    const env = cleanEnv({ SCATTER_PORTAL: `127.0.0.1:${port}`, SCATTER_ADMIN: `127.0.0.1:${adminPort}`, SCATTER_DATA_DIR: vol });
    proc = startCli(['serve', '--config', cfg], { env, cwd: work });
    await untilHealthy(proc, adminPort);
    await waitUntil(() => logged(proc!, 'scatter is serving').length === 1, '"scatter is serving" logged');

    // The listeners: the environment's addresses, not the file's.
    expect(await login(port)).toEqual([0, 0]);
    expect(await refused(filePort)).toBe(true);
    expect(await refused(fileAdmin)).toBe(true);
    expect(logged(proc, 'scatter is serving')[0]!.environment).toEqual({
      SCATTER_PORTAL: `127.0.0.1:${port}`,
      SCATTER_ADMIN: `127.0.0.1:${adminPort}`,
      SCATTER_DATA_DIR: vol,
    });

    // The data: the LUN, the state (backing records) and the admin token on the "volume", none in ./data.
    expect(statSync(join(vol, 'lun0.img')).size).toBe(64 * MiB);
    expect(existsSync(join(vol, 'state', 'admin-token'))).toBe(true);
    expect(existsSync(join(vol, 'state', 'backing'))).toBe(true);
    expect(existsSync(join(work, 'data'))).toBe(false);

    // The admin API shows what runs, refuses to move a pinned key, and resolves its paths the same way.
    const token = readFileSync(join(vol, 'state', 'admin-token'), 'utf8').trim();
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${adminPort}/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const shown = (await (await api('GET', '/config')).json()) as { config: { iscsi: { portals: unknown }; admin: unknown } };
    expect(shown.config.iscsi.portals).toEqual([{ host: '127.0.0.1', port }]);
    expect(shown.config.admin).toMatchObject({ host: '127.0.0.1', port: adminPort });
    const pinned = await api('PUT', `/portals/127.0.0.1:${filePort}`);
    expect(pinned.status).toBe(409);
    expect(((await pinned.json()) as { detail: string }).detail).toContain(`iscsi.portals is set by SCATTER_PORTAL=127.0.0.1:${port}`);
    expect(await refused(filePort)).toBe(true);
    expect((await api('PUT', '/backstores/disk1', { name: 'disk1', type: 'file', path: './data/disk1.img', size: '16M' })).status).toBe(201);
    expect((await api('PUT', `/targets/${IQN}/luns/1`, { lun: 1, backstore: 'disk1' })).status).toBe(201);
    expect(statSync(join(vol, 'disk1.img')).size).toBe(16 * MiB);
    const written = readFileSync(cfg, 'utf8');
    expect(written).toContain(`path: ${join(vol, 'disk1.img')}`);
    expect(written).toContain(`port: ${filePort}`);
    expect(written).toContain(`port: ${fileAdmin}`);
    expect(written).not.toContain(`port: ${port}`);
    expect(written).not.toContain(`port: ${adminPort}`);

    // The CLI finds the listener and the token as serve placed them (what `docker exec ... scatter ls` does).
    const ls = startCli(['-c', cfg, '--json', 'ls'], { env, cwd: work });
    expect(await ls.exited, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(IQN);

    // SIGHUP: the file (grown LUN 0) read again, the environment laid over it again.
    const grown = written.replace('size: 64MiB', 'size: 128MiB');
    expect(grown).not.toBe(written);
    writeFileSync(cfg, grown);
    proc.child.kill('SIGHUP');
    await waitUntil(() => logged(proc!, 'config reloaded').length === 1, '"config reloaded" logged');
    expect(logged(proc, 'config reloaded')[0]).toMatchObject({ applied: 1, needsRestart: [] });
    expect(statSync(join(vol, 'lun0.img')).size).toBe(128 * MiB);
    expect(await login(port)).toEqual([0, 0]);
    expect(await healthy(adminPort)).toBe(true);
    expect(await refused(filePort)).toBe(true);

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  it('empty variables are unset: the file decides, ./data is under the working directory', async () => {
    dir = scratchDir('scatter-env-');
    const [filePort, fileAdmin] = [await freePort(), await freePort()];
    const cfg = writeConfig(filePort, fileAdmin);
    const work = join(dir, 'work');
    proc = startCli(['serve', '--config', cfg], { env: cleanEnv({ SCATTER_PORTAL: '', SCATTER_ADMIN: '', SCATTER_DATA_DIR: '' }), cwd: work });
    await untilHealthy(proc, fileAdmin);
    expect(await login(filePort)).toEqual([0, 0]);
    expect(statSync(join(work, 'data', 'lun0.img')).size).toBe(64 * MiB);
    expect(logged(proc, 'scatter is serving')[0]!.environment).toEqual({});
  });

  it.each([
    ['SCATTER_PORTAL', 'nonsense', 'environment: SCATTER_PORTAL: "nonsense": host must be an IPv4 or IPv6 address'],
    ['SCATTER_ADMIN', '0.0.0.0:99999', 'environment: SCATTER_ADMIN: "0.0.0.0:99999": port must be a whole number from 1 to 65535'],
    ['SCATTER_PORTAL', '0.0.0.0:http', 'environment: SCATTER_PORTAL: "0.0.0.0:http": port "http" is not a number'],
  ])('%s=%s stops the start (exit 2) naming the variable', async (name, value, message) => {
    dir = scratchDir('scatter-env-');
    const cfg = writeConfig(await freePort(), await freePort());
    proc = startCli(['serve', '--config', cfg], { env: cleanEnv({ [name]: value }), cwd: join(dir, 'work') });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr).toContain(`scatter: invalid configuration\n${message}`);
    expect(proc.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(proc.stdout).toBe('');
  });

  it('a clash the environment makes with the file (admin port = portal port) stops the start naming both', async () => {
    dir = scratchDir('scatter-env-');
    const filePort = await freePort();
    const cfg = writeConfig(filePort, await freePort());
    proc = startCli(['serve', '--config', cfg], { env: cleanEnv({ SCATTER_ADMIN: `127.0.0.1:${filePort}` }), cwd: join(dir, 'work') });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr).toContain(`${cfg} with SCATTER_ADMIN from the environment: admin.port: ${filePort} is already an iSCSI portal port`);
  });
});
