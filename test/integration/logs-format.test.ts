/**
 * `scatter serve` (the built CLI) logs JSON lines when stdout is not a terminal and pretty,
 * coloured lines when it is (a pseudo-terminal from util-linux `script`); `--log-format` overrides
 * both. The JSON run also reloads on SIGHUP and stops on SIGTERM, each logged under its event.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePort, startCli, type CliProc } from '../helpers/cli-proc.js';
import { findTool } from '../helpers/tools.js';
import { waitUntil } from '../helpers/wait.js';

const IQN = 'iqn.2026-11.io.scatter:log-format';
const ESC = '\u001b[';
/** A pretty line (colour codes taken out): time, level, then the event when the line has one. */
const PRETTY_STARTED = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): started: scatter is serving \{/m;

/** `s` without ANSI colour codes (ESC [ digits m). */
function plain(s: string): string {
  return s
    .split(ESC)
    .map((piece, i) => (i === 0 ? piece : piece.slice(piece.indexOf('m') + 1)))
    .join('');
}

let dir: string | undefined;
const procs: CliProc[] = [];

function configText(port: number, size: string): string {
  return [
    `stateDir: ${dir}/state`,
    'admin: { enabled: false }',
    `iscsi: { portals: [ { host: 127.0.0.1, port: ${port} } ], nopInInterval: 0 }`,
    'targets:',
    `  - iqn: ${IQN}`,
    `    luns: [ { lun: 0, backstore: { type: file, path: ${dir}/lun0.img, size: ${size} } } ]`,
    '',
  ].join('\n');
}

/** A config file in a fresh temp dir; returns its path and the portal's port. */
async function config(): Promise<{ path: string; port: number }> {
  dir = mkdtempSync(join(tmpdir(), 'scatter-log-format-'));
  const path = join(dir, 'scatter.yaml');
  const port = await freePort();
  writeFileSync(path, configText(port, '16MiB'));
  return { path, port };
}

async function serving(p: CliProc): Promise<void> {
  await waitUntil(
    () => {
      if (p.child.exitCode !== null) throw new Error(`scatter exited: ${p.stderr}${p.stdout}`);
      return p.stdout.includes('scatter is serving');
    },
    () => `"scatter is serving" in ${JSON.stringify(p.stdout)}`,
  );
}

/**
 * `scatter serve` with a pseudo-terminal for stdout: `script` runs it (exec'd by the shell, so it
 * is script's child) and copies what it writes. `stop()` sends SIGTERM to scatter itself.
 */
function startOnTerminal(args: string[]): { proc: CliProc; stop(): Promise<number | null> } {
  const command = ['exec', process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '' } });
  const proc: CliProc = { child, stdout: '', stderr: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stdout.on('data', (c: Buffer) => (proc.stdout += c.toString().replaceAll('\r\n', '\n')));
  child.stderr.on('data', (c: Buffer) => (proc.stderr += c.toString()));
  procs.push(proc);
  return {
    proc,
    stop: () => {
      const scatter = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim());
      process.kill(scatter, 'SIGTERM');
      return proc.exited;
    },
  };
}

function jsonLines(out: string): Record<string, unknown>[] {
  const lines = out.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) expect(l.startsWith('{'), l).toBe(true);
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('scatter serve: log format', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');
  });
  afterEach(() => {
    for (const p of procs.splice(0)) p.child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('not a terminal: JSON lines; SIGHUP and SIGTERM logged under their events', async () => {
    const cfg = await config();
    const p = startCli(['serve', '--config', cfg.path]);
    procs.push(p);
    await serving(p);
    writeFileSync(cfg.path, configText(cfg.port, '32MiB'));
    p.child.kill('SIGHUP');
    await waitUntil(() => p.stdout.includes('"event":"config_reload"'), 'the reload logged');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const events = jsonLines(p.stdout).filter((l) => l.event !== undefined);
    expect(events.map((l) => [l.event, l.change ?? l.via ?? l.outcome])).toEqual([
      ['lu_state', 'ready'],
      ['started', undefined],
      ['lu_state', 'resized'],
      ['config_applied', 'reload'],
      ['config_reload', 'applied'],
      ['stopping', undefined],
      ['stopped', undefined],
    ]);
    expect(events.find((l) => l.event === 'config_applied')).toMatchObject({ steps: [`grow ${IQN} LUN 0 to ${32 * 1024 * 1024} bytes`] });
    expect(events.find((l) => l.event === 'stopping')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('not a terminal, --log-format pretty: readable lines without colour', async () => {
    const p = startCli(['serve', '--config', (await config()).path, '--log-format', 'pretty']);
    procs.push(p);
    await serving(p);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.stdout).toMatch(PRETTY_STARTED);
    expect(p.stdout).not.toContain(ESC);
    expect(p.stdout.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    expect(p.stdout).toMatch(/INFO \(\d+\): stopped: stopped\n$/);
  });

  it('an unknown --log-format is refused before anything starts', async () => {
    const p = startCli(['serve', '--config', (await config()).path, '--log-format', 'xml']);
    procs.push(p);
    expect(await p.exited).not.toBe(0);
    expect(p.stderr).toMatch(/--log-format.*xml.*json, pretty/s);
    expect(p.stdout).toBe('');
  });

  describe.skipIf(!findTool('script') && !process.env.CI)('on a terminal (util-linux script)', () => {
    it('pretty, coloured lines', async () => {
      const t = startOnTerminal(['serve', '--config', (await config()).path]);
      await serving(t.proc);
      expect(await t.stop()).toBe(0);
      expect(t.proc.stdout).toContain(ESC);
      expect(plain(t.proc.stdout)).toMatch(PRETTY_STARTED);
      expect(t.proc.stdout.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    });

    it('--log-format json: JSON lines', async () => {
      const t = startOnTerminal(['serve', '--config', (await config()).path, '--log-format', 'json']);
      await serving(t.proc);
      expect(await t.stop(), t.proc.stdout + t.proc.stderr).toBe(0);
      expect(jsonLines(t.proc.stdout).map((l) => l.event)).toContain('started');
    });
  });
});
