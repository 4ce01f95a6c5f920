/**
 * A real Prometheus (Debian's `prometheus`) for tests: the shipped config/prometheus.yml with its
 * rules, scraping one Scatter admin listener every second, on a free port with its own TSDB in a
 * temp dir; and the few calls of its HTTP API the tests make.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { waitUntil } from '../helpers/wait.js';

export const SHIPPED_CONFIG = fileURLToPath(new URL('../../config/prometheus.yml', import.meta.url));

export interface PromSeries {
  readonly metric: Readonly<Record<string, string>>;
  /** Range queries: [unix seconds, value as text]. */
  readonly values?: readonly (readonly [number, string])[];
  /** Instant queries. */
  readonly value?: readonly [number, string];
}

export interface PromAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly state: 'pending' | 'firing';
}

export interface PromRule {
  readonly name: string;
  readonly type: string;
  readonly health: string;
  readonly lastError?: string;
}

interface ShippedConfig {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
}

/** The shipped config with 1 s scrapes and evaluations, scraping `target`, the rule files made absolute. */
function testConfig(target: string): string {
  const c = parse(readFileSync(SHIPPED_CONFIG, 'utf8')) as ShippedConfig;
  c.global = { ...c.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  c.rule_files = c.rule_files.map((f) => resolve(dirname(SHIPPED_CONFIG), f));
  const job = c.scrape_configs.find((s) => s.job_name === 'scatter');
  if (!job) throw new Error(`${SHIPPED_CONFIG}: no scrape job "scatter"`);
  job.static_configs = [{ targets: [target] }];
  return stringify(c);
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

export class Prometheus {
  private exited = false;

  private constructor(
    private readonly proc: ChildProcess,
    readonly url: string,
    private readonly dir: string,
    private readonly log: () => string,
  ) {
    proc.once('exit', () => (this.exited = true));
  }

  /** Starts Prometheus scraping `target` (host:port) and waits until it is ready. */
  static async start(target: string): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'scatter-prometheus-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, testConfig(target));
    // The port is free when picked but may be taken before Prometheus binds it: try again then.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const proc = spawn(
        'prometheus',
        [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      const p = new Prometheus(proc, `http://127.0.0.1:${port}`, dir, () => stderr);
      try {
        await waitUntil(() => p.ready(), 'Prometheus answers /-/ready', { timeoutMs: 30_000, pollMs: 50 });
        return p;
      } catch (err) {
        await p.kill();
        if (attempt >= 3 || !/address already in use/.test(stderr)) {
          rmSync(dir, { recursive: true, force: true });
          throw new Error(`${(err as Error).message}\n${stderr}`);
        }
      }
    }
  }

  private async ready(): Promise<boolean> {
    if (this.exited) throw new Error(`prometheus exited: ${this.log()}`);
    try {
      return (await fetch(`${this.url}/-/ready`)).status === 200;
    } catch {
      return false; // not listening yet
    }
  }

  private async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${this.url}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`GET /api/v1/${path} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    return body.data;
  }

  /** Health of the scrape targets ("up", "down", "unknown" before the first scrape). */
  async targetHealth(): Promise<string[]> {
    const d = await this.api<{ activeTargets: { health: string }[] }>('targets', { state: 'active' });
    return d.activeTargets.map((t) => t.health);
  }

  async query(expr: string): Promise<PromSeries[]> {
    return (await this.api<{ result: PromSeries[] }>('query', { query: expr })).result;
  }

  async queryRange(expr: string, startSeconds: number, endSeconds: number, stepSeconds: number): Promise<PromSeries[]> {
    const d = await this.api<{ result: PromSeries[] }>('query_range', {
      query: expr,
      start: String(startSeconds),
      end: String(endSeconds),
      step: String(stepSeconds),
    });
    return d.result;
  }

  /** Values of `label` on series of `metric` (what Grafana's label_values(metric, label) lists). */
  async labelValues(label: string, metric: string): Promise<string[]> {
    return this.api<string[]>(`label/${encodeURIComponent(label)}/values`, { 'match[]': metric });
  }

  async alerts(): Promise<PromAlert[]> {
    return (await this.api<{ alerts: PromAlert[] }>('alerts')).alerts;
  }

  async rules(): Promise<PromRule[]> {
    return (await this.api<{ groups: { rules: PromRule[] }[] }>('rules')).groups.flatMap((g) => g.rules);
  }

  /** Stops it and removes its TSDB and config. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((res) => this.proc.once('exit', () => res()));
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(killer);
  }
}
