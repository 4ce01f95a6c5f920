/**
 * The admin plane end to end, driven only through the `scatter` CLI against a real `scatter serve`
 * started from an empty config, checked with real initiators (libiscsi tools, qemu-io):
 * backstore, target, LUN, ACL with its own CHAP; who may log in and why not; read-only mapping;
 * discovery filtering; live resize; a session killed under I/O; a restart that comes back the same.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startCli, type CliProc } from '../helpers/cli-proc.js';
import { findTool, missingTools, run, type RunResult } from '../helpers/tools.js';
import { waitUntil } from '../helpers/wait.js';

const IQN = 'iqn.2026-11.io.scatter:scenario';
const OTHER = 'iqn.2026-11.io.scatter:scenario-other';
const HOST = 'iqn.2026-11.io.scatter.test:host-a';
const STRANGER = 'iqn.2026-11.io.scatter.test:stranger';
const SECRET = 'scenario-chap-secret-1';
const MiB = 1024 ** 2;

let dir: string;
let cfg: string;
let port: number;
let serve: CliProc | undefined;

/** `scatter <args>` against the running target, found through the config file alone. */
function scatter(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult & { json: () => unknown }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(process.cwd(), 'dist/cli/main.js'), '-c', cfg, ...args], {
      env: { ...process.env, ...env },
      // Where the operator runs it: relative paths of the config (stateDir, so the token) resolve here.
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr, json: () => JSON.parse(stdout) as unknown }));
  });
}

async function ok(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult & { json: () => unknown }> {
  const r = await scatter(args, env);
  expect(r.code, `scatter ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

async function startServe(): Promise<void> {
  serve = startCli(['serve', '--config', cfg], { cwd: dir });
  await waitUntil(() => serve!.stdout.includes('scatter is serving'), '"scatter is serving" logged');
}

async function stopServe(): Promise<void> {
  serve?.child.kill('SIGTERM');
  expect(await serve?.exited).toBe(0);
  serve = undefined;
}

/** qemu's iscsi driver as `initiator` with CHAP: `--image-opts` plus the secret object. */
function qemuImage(lun: number, initiator = HOST): string[] {
  return [
    '--object',
    `secret,id=chap0,data=${SECRET}`,
    '--image-opts',
    `driver=iscsi,transport=tcp,portal=127.0.0.1:${port},target=${IQN},lun=${lun},initiator-name=${initiator},user=host-a,password-secret=chap0`,
  ];
}

beforeAll(async () => {
  const missing = missingTools(['iscsi-inq', 'iscsi-ls', 'iscsi-readcapacity16', 'qemu-io']);
  if (missing.length > 0) throw new Error(`missing tools: ${missing.join(', ')}`);
  dir = mkdtempSync(join(tmpdir(), 'scatter-scenario-'));
  port = await freePort();
  const adminPort = await freePort();
  cfg = join(dir, 'scatter.yaml');
  // An empty config: where to listen and where state goes, nothing to serve yet.
  writeFileSync(
    cfg,
    [
      '# Scenario config: everything else is added through the CLI.',
      'logLevel: info',
      'stateDir: ./state',
      `iscsi: { portals: [ { host: 127.0.0.1, port: ${port} } ], nopInInterval: 0 }`,
      `admin: { host: 127.0.0.1, port: ${adminPort} }`,
      '',
    ].join('\n'),
  );
  await startServe();
}, 60_000);

afterAll(async () => {
  serve?.child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('scatter CLI scenario, from an empty config', () => {
  it('builds a target with an ACL and per-ACL CHAP that real initiators log in to, or are refused with a reason', async () => {
    await ok(['backstore', 'create', 'disk-a', '--file', join(dir, 'disk-a.img'), '--size', '64M']);
    await ok(['backstore', 'create', 'disk-b', '--file', join(dir, 'disk-b.img'), '--size', '16M']);
    await ok(['target', 'create', IQN, '--alias', 'scenario']);
    await ok(['target', 'create', OTHER]);
    await ok(['lun', 'add', IQN, '0', '--backstore', 'disk-a']);
    await ok(['lun', 'add', IQN, '1', '--backstore', 'disk-b']);
    await ok(['acl', 'add', IQN, HOST, '--map', '0', '--map', '1:1:ro']);
    const secretFile = join(dir, 'chap-secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const chap = await ok(['chap', 'set', IQN, '--initiator', HOST, '--user', 'host-a', '--secret-file', secretFile]);
    expect(chap.stdout + chap.stderr).not.toContain(SECRET);

    const url = (lun: number) => `iscsi://host-a%${SECRET}@127.0.0.1:${port}/${IQN}/${lun}`;
    const inq = await run('iscsi-inq', ['-i', HOST, url(0)]);
    expect(inq.code, inq.stderr).toBe(0);
    const refused = await run('iscsi-inq', ['-i', STRANGER, `iscsi://127.0.0.1:${port}/${IQN}/0`]);
    expect(refused.code).not.toBe(0);
    const logins = await ok(['logins', '--initiator', STRANGER, '--json']);
    expect(logins.json()).toEqual([expect.objectContaining({ initiatorName: STRANGER, outcome: 'failure', reason: 'not_in_acl' })]);

    // Discovery: the stranger sees only the open target, the ACL's initiator both.
    const seenByStranger = await run('iscsi-ls', ['-i', STRANGER, `iscsi://127.0.0.1:${port}`]);
    expect(seenByStranger.stdout).toContain(OTHER);
    expect(seenByStranger.stdout).not.toContain(`${IQN} `);
    const seenByHost = await run('iscsi-ls', ['-i', HOST, `iscsi://127.0.0.1:${port}`]);
    expect(seenByHost.stdout).toContain(IQN);

    // The read-only mapping refuses writes; the other LUN takes them.
    const roWrite = await run(findTool('qemu-io')!, [...qemuImage(1), '-c', 'write -P 0x11 0 64k']);
    expect(roWrite.code !== 0 || /error|denied|protect/i.test(roWrite.stdout + roWrite.stderr)).toBe(true);
    const rwWrite = await run(findTool('qemu-io')!, [...qemuImage(0), '-c', 'write -P 0x5a 0 1M']);
    expect(rwWrite.code, rwWrite.stderr).toBe(0);
    expect(rwWrite.stdout).toContain('wrote 1048576/1048576 bytes');
  }, 120_000);

  it('resizes a LUN live (the initiator sees the new capacity) and kills a session under I/O, which reconnects', async () => {
    await ok(['lun', 'resize', IQN, '0', '96M']);
    const cap = await run('iscsi-readcapacity16', ['-i', HOST, `iscsi://host-a%${SECRET}@127.0.0.1:${port}/${IQN}/0`]);
    expect(cap.stdout).toMatch(new RegExp(`Total size:\\s*${96 * MiB}`));

    // qemu-io writes for a while (one MiB at a time, over and over); kill its session in the middle.
    const writes = Array.from({ length: 400 }, (_, i) => ['-c', `write -P 0x5a ${(i % 64) * MiB} 1M`]).flat();
    const bench = spawn(findTool('qemu-io')!, [...qemuImage(0), ...writes], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Apart: libiscsi's reconnect messages on stderr must not split qemu-io's lines on stdout.
    let benchOut = '';
    let benchErr = '';
    bench.stdout.on('data', (c: Buffer) => (benchOut += c.toString()));
    bench.stderr.on('data', (c: Buffer) => (benchErr += c.toString()));
    const benchDone = new Promise<number | null>((r) => bench.on('exit', r));
    let tsih: number | undefined;
    await waitUntil(async () => {
      const list = (await ok(['session', 'list', '--json'])).json() as { tsih: number; initiatorName: string }[];
      tsih = list.find((s) => s.initiatorName === HOST)?.tsih;
      return tsih !== undefined;
    }, 'the bench session listed');
    await ok(['session', 'kill', String(tsih)]);
    expect(await benchDone, benchErr).toBe(0);
    // Every write completed, the ones across the kill included (libiscsi logged in again).
    expect(benchOut.match(/wrote 1048576\/1048576 bytes/g), benchErr).toHaveLength(400);
    const successes = (await ok(['logins', '--initiator', HOST, '--json'])).json() as { outcome: string }[];
    // The bench logged in once, and again after its session was killed.
    expect(successes.filter((a) => a.outcome === 'success').length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('a restart comes back to the same config, the same data and the same view', async () => {
    const before = (await ok(['ls', '--json'])).json() as { targets: unknown; backstores: unknown; portals: unknown };
    const data = await run(findTool('qemu-io')!, [...qemuImage(0), '-c', 'read -P 0x5a 0 64k']);
    expect(data.code, data.stderr).toBe(0);
    await stopServe();
    const text = readFileSync(cfg, 'utf8');
    expect(text).toContain('# Scenario config: everything else is added through the CLI.');
    await startServe();
    const after = (await ok(['ls', '--json'])).json() as typeof before;
    expect(after.targets).toEqual(before.targets);
    expect(after.backstores).toEqual(before.backstores);
    expect(after.portals).toEqual(before.portals);
    const again = await run(findTool('qemu-io')!, [...qemuImage(0), '-c', 'read -P 0x5a 0 64k']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('read 65536/65536 bytes');
    const cap = await run('iscsi-readcapacity16', ['-i', HOST, `iscsi://host-a%${SECRET}@127.0.0.1:${port}/${IQN}/0`]);
    expect(cap.stdout).toMatch(new RegExp(`Total size:\\s*${96 * MiB}`));
    expect((await run('iscsi-inq', ['-i', STRANGER, `iscsi://127.0.0.1:${port}/${IQN}/0`])).code).not.toBe(0);
  }, 120_000);
});
