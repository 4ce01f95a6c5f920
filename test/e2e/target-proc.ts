/**
 * Scatter as a separate process (`node dist/cli/main.js serve`), so a test can
 * SIGTERM (or SIGKILL) it and start it again on the same port and backing file.
 * Its JSON log is kept; entries at level error (50) or above fail a scenario.
 * With `{ admin: true }` it also serves the admin API on a port of its own
 * (stateDir in its directory, so the token is `<dir>/state/admin-token`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../helpers/wait.js';

const CLI = join(process.cwd(), 'dist/cli/main.js');

export interface LogEntry {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RelayCounters {
  toTarget: number;
  toGuest: number;
  pdusToTarget: Record<string, number>;
  pdusToGuest: Record<string, number>;
  /** SCSI Command PDUs by CDB opcode (hex). */
  cdbsToTarget: Record<string, number>;
}

/** b - a, key by key. */
export function counterDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) !== 0) out[k] = v - (a[k] ?? 0);
  return out;
}

export class TargetProcess {
  readonly dir = mkdtempSync(join(tmpdir(), 'scatter-e2e-'));
  readonly portFile = join(this.dir, 'port');
  readonly relayPidDir = join(this.dir, 'relays');
  readonly log: LogEntry[] = [];
  readonly rawLog: string[] = [];
  port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  readonly configFile = join(this.dir, 'scatter.yaml');
  readonly stateDir = join(this.dir, 'state');
  /** The admin API's port (0 until the first start; stays 0 without `{ admin: true }`). */
  adminPort = 0;
  private config: Record<string, unknown>;
  private readonly withAdmin: boolean;

  /** `configure` gives the file's content as an object (YAML is a superset of JSON); the portal is filled in. */
  constructor(configure: (self: TargetProcess) => Record<string, unknown>, opts: { admin?: boolean } = {}) {
    this.config = configure(this);
    this.withAdmin = opts.admin ?? false;
  }

  /** The config file as `scatter serve` reads it: `config` plus the portal and, unless asked for, no admin listener. */
  private writeConfig(): void {
    const iscsi = { ...(this.config.iscsi as Record<string, unknown> | undefined), portals: [{ host: '127.0.0.1', port: this.port }] };
    // No admin listener by default: its default port 9470 could collide with a target already running here.
    const admin = this.withAdmin ? { stateDir: this.stateDir, admin: { enabled: true, host: '127.0.0.1', port: this.adminPort } } : { admin: { enabled: false } };
    writeFileSync(this.configFile, JSON.stringify({ logLevel: 'info', ...admin, ...this.config, iscsi }, null, 2));
  }

  /** A request to the admin API with the bearer token from the state directory; the parsed JSON body (or text). */
  async admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> | undefined; text: string }> {
    if (!this.withAdmin) throw new Error('admin: this target was started without { admin: true }');
    const token = readFileSync(join(this.stateDir, 'admin-token'), 'utf8').trim();
    const res = await fetch(`http://127.0.0.1:${this.adminPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  lunPath(name = 'lun0.img'): string {
    return join(this.dir, name);
  }

  async start(): Promise<void> {
    if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');
    if (this.port === 0) this.port = await freePort();
    if (this.withAdmin && this.adminPort === 0) this.adminPort = await freePort();
    writeFileSync(this.portFile, String(this.port));
    mkdirSync(this.relayPidDir, { recursive: true });
    this.writeConfig();
    const child = spawn(process.execPath, [CLI, 'serve', '--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    let pending = '';
    let ready: () => void = () => undefined;
    const serving = new Promise<void>((resolve) => (ready = resolve));
    child.stdout!.on('data', (c: Buffer) => {
      pending += c.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        this.rawLog.push(line);
        try {
          const entry = JSON.parse(line) as LogEntry;
          this.log.push(entry);
          if (entry.msg === 'scatter is serving') ready();
        } catch {
          this.log.push({ level: 60, msg: `unparsable log line: ${line}` });
        }
      }
    });
    child.stderr!.on('data', (c: Buffer) => this.rawLog.push(`stderr: ${c.toString()}`));
    const early = this.exited.then((code) => {
      throw new Error(`scatter exited ${code} before serving:\n${this.rawLog.join('\n')}`);
    });
    await Promise.race([serving, early]);
    early.catch(() => undefined);
  }

  /**
   * Rewrites the config file from `configure` (same portal) and sends SIGHUP; resolves with the
   * target's `config reloaded` log entry for it (steps applied, warnings, needsRestart).
   */
  async reload(configure: (self: TargetProcess) => Record<string, unknown>, timeoutMs = 15_000): Promise<LogEntry> {
    const child = this.child;
    if (!child || child.exitCode !== null) throw new Error('reload: scatter is not running');
    const reloaded = (): LogEntry[] => this.log.filter((e) => e.msg === 'config reloaded');
    const before = reloaded().length;
    this.config = configure(this);
    this.writeConfig();
    child.kill('SIGHUP');
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`scatter exited during a reload:\n${this.rawLog.join('\n')}`);
        return reloaded().length > before;
      },
      () => `'config reloaded' is logged:\n${this.rawLog.slice(-20).join('\n')}`,
      { timeoutMs, pollMs: 50 },
    );
    return reloaded()[before]!;
  }

  /** SIGTERM and wait for the exit code. */
  async stop(): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode ?? null;
    this.child.kill('SIGTERM');
    const code = await this.exited!;
    this.child = undefined;
    return code;
  }

  /** SIGKILL (no shutdown of any kind: connections drop, the etcd lease is left to expire) and wait for the exit. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /** Bytes and PDUs (by opcode hex, plus NOP ping counts, plus CDB opcodes) relayed each way, summed over the live relays. */
  relayCounters(): RelayCounters {
    const sum: RelayCounters = { toTarget: 0, toGuest: 0, pdusToTarget: {}, pdusToGuest: {}, cdbsToTarget: {} };
    const add = (into: Record<string, number>, from: Record<string, number>): void => {
      for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
    };
    for (const f of readdirSync(this.relayPidDir)) {
      if (f.startsWith('.')) continue;
      try {
        const c = JSON.parse(readFileSync(join(this.relayPidDir, f), 'utf8')) as RelayCounters;
        sum.toTarget += c.toTarget;
        sum.toGuest += c.toGuest;
        add(sum.pdusToTarget, c.pdusToTarget);
        add(sum.pdusToGuest, c.pdusToGuest);
        add(sum.cdbsToTarget, c.cdbsToTarget ?? {});
      } catch {
        // A relay that just exited or is mid-write.
      }
    }
    return sum;
  }

  /** Pids of the live relays (not their half-written `.<pid>` files: Number('.123') is 0.123). */
  relayPids(): number[] {
    return readdirSync(this.relayPidDir)
      .filter((f) => /^[1-9][0-9]*$/.test(f))
      .map(Number);
  }

  errors(): LogEntry[] {
    return this.log.filter((e) => e.level >= 50);
  }

  async dispose(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
