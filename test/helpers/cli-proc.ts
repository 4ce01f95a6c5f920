/** The built `scatter` CLI as a child process, for tests that need a real process (signals, exit codes). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll } from 'vitest';

export const CLI = join(process.cwd(), 'dist/cli/main.js');

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface CliProc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

/**
 * `node [...nodeArgs] dist/cli/main.js ...args`, its output collected; `env` replaces the
 * environment (e.g. LD_PRELOAD), `nodeArgs` go to node itself (e.g. --import), `cwd` is where it runs.
 */
export function startCli(args: string[], opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; cwd?: string } = {}): CliProc {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  const p: CliProc = { child, stdout: '', stderr: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stdout!.on('data', (c: Buffer) => (p.stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (p.stderr += c.toString()));
  running.add(p);
  void p.exited.then(() => running.delete(p));
  return p;
}

/** Processes startCli started that have not exited, and scratch directories: cliSuite cleans both up. */
const running = new Set<CliProc>();
const scratch = new Set<string>();

/** A fresh temporary directory, removed after the test by cliSuite's hook. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.add(dir);
  return dir;
}

/**
 * The hooks of a suite that runs the built CLI: the build is checked once (a direct vitest run has
 * no pretest build), and after each test every process it started is killed and every scratchDir removed.
 */
export function cliSuite(): void {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');
  });
  afterEach(() => {
    for (const p of running) p.child.kill('SIGKILL');
    running.clear();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
    scratch.clear();
  });
}

/** Log lines (pino JSON on stdout) with this message, in order. */
export function logged(p: CliProc, msg: string): Record<string, unknown>[] {
  return p.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

/** A one-target config file for `scatter serve` in `dir`, portal and admin on the given ports; returns its path. */
export function writeServeConfig(
  dir: string,
  o: { port: number; adminPort: number; iqn: string; luns: string[]; iscsi?: string; head?: string[] },
): string {
  const path = join(dir, 'scatter.yaml');
  const lines = [
    ...(o.head ?? []),
    // State (backing file records, reservations) in the temp dir, not the checkout's ./data/state.
    `stateDir: ${join(dir, 'state')}`,
    `iscsi: { portals: [ { host: 127.0.0.1, port: ${o.port} } ]${o.iscsi ? `, ${o.iscsi}` : ''} }`,
    `admin: { port: ${o.adminPort} }`,
    'targets:',
    `  - iqn: ${o.iqn}`,
    '    luns:',
    ...o.luns.map((l) => `      - ${l}`),
    '',
  ];
  writeFileSync(path, lines.join('\n'));
  return path;
}
