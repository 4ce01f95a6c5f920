/**
 * docker/compose.yaml without Docker: it validates against the Compose Specification's JSON
 * schema (test/fixtures/compose-spec/), every file it builds from or mounts exists, and the
 * services fit together: Scatter's environment parses as `scatter serve` reads it, Prometheus
 * (its files laid out as the mounts place them, checked by promtool) scrapes the scatter service
 * on the admin port with the shipped alert rules, Grafana's provisioning points at Prometheus and
 * at the mounted dashboard. `docker compose up` itself was never run here.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { readEnvOverrides } from '../../src/config/env-overrides.js';
import { missingTools, run } from '../helpers/tools.js';

const ROOT = process.cwd();
const DIR = join(ROOT, 'docker');
const COMPOSE = join(DIR, 'compose.yaml');

interface Mount {
  /** Absolute path on the host (bind mount), or the volume's name. */
  readonly source: string;
  readonly target: string;
  readonly bind: boolean;
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[];
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const doc: unknown = parse(readFileSync(COMPOSE, 'utf8'));
const compose = doc as Compose;
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`no service ${name} in docker/compose.yaml`);
  return s;
};

/** Short-syntax volumes: `./file:/target[:ro]` binds (relative to docker/), `name:/target` named volumes. */
function mounts(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    const [source, target] = v.split(':');
    const bind = source!.startsWith('.') || source!.startsWith('/');
    return { source: bind ? resolve(DIR, source!) : source!, target: target!, bind };
  });
}

/** The files a service's bind mounts put in its container, laid out under `root`. */
function layOut(s: Service, root: string): void {
  for (const m of mounts(s).filter((m) => m.bind)) {
    mkdirSync(dirname(join(root, m.target)), { recursive: true });
    cpSync(m.source, join(root, m.target), { recursive: true });
  }
}

/** "127.0.0.1:9470:9470" -> container port 9470. */
const containerPort = (p: string) => Number(p.split(':').at(-1));

const tmp = mkdtempSync(join(tmpdir(), 'scatter-compose-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('docker/compose.yaml', () => {
  it('validates against the Compose Specification schema', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/compose-spec/compose-spec.json'), 'utf8')) as object;
    // The schema names its draft by an https URL ajv does not know; it is draft-07, ajv's default.
    const validate = new Ajv({ allErrors: true, strict: false, validateSchema: false }).compile(schema);
    const ok = validate(doc);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // The check is not vacuous: a misspelt key fails it.
    expect(validate({ services: { scatter: { image: 'x', healtcheck: {} } } })).toBe(false);
  });

  it('every file it builds from or mounts exists; every named volume is declared', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'prometheus', 'scatter']);
    const build = service('scatter').build!;
    expect(resolve(DIR, build.context)).toBe(ROOT);
    expect(existsSync(join(resolve(DIR, build.context), build.dockerfile))).toBe(true);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const m of mounts(s)) {
        if (m.bind) expect(existsSync(m.source), `${name}: ${m.source} exists`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${m.source} declared`).toContain(m.source);
      }
      for (const dep of s.depends_on ?? []) expect(Object.keys(compose.services)).toContain(dep);
    }
  });

  it("scatter: the environment parses as `scatter serve` reads it, its ports are published, its data dir is the volume's mount", () => {
    const s = service('scatter');
    const env = readEnvOverrides(s.environment ?? {});
    expect(env.portals).toEqual([{ host: '0.0.0.0', port: 3260 }]);
    expect(env.admin).toEqual({ host: '0.0.0.0', port: 9470 });
    const published = (s.ports ?? []).map(containerPort);
    expect(published).toEqual([env.portals![0]!.port, env.admin!.port]);
    // The admin listener (an API with a token, metrics naming initiators) is published on loopback only.
    expect(s.ports!.find((p) => containerPort(p) === env.admin!.port)).toMatch(/^127\.0\.0\.1:/);
    expect(mounts(s).find((m) => m.target === env.dataDir)).toMatchObject({ bind: false });
  });

  it('prometheus: promtool accepts its config and the alert rules as the mounts lay them out; it scrapes the scatter service on the admin port as job "scatter"', async () => {
    const s = service('prometheus');
    const configArg = (s.command ?? []).find((a) => a.startsWith('--config.file='));
    expect(configArg).toBeDefined();
    const configPath = configArg!.slice('--config.file='.length);
    const root = join(tmp, 'prometheus');
    layOut(s, root);
    const config = parse(readFileSync(join(root, configPath), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    // The rules file mounted is the one config/prometheus.yml loads; its alerts select job="scatter".
    const rules = mounts(s).find((m) => m.source === join(ROOT, 'config/prometheus-rules.yml'));
    expect(rules, 'config/prometheus-rules.yml is mounted').toBeDefined();
    expect(config.rule_files.map((f) => resolve(dirname(configPath), f))).toContain(rules!.target);
    expect(readFileSync(rules!.source, 'utf8')).toContain('job="scatter"');
    const job = config.scrape_configs.find((j) => j.job_name === 'scatter');
    const adminPort = readEnvOverrides(service('scatter').environment ?? {}).admin!.port;
    expect(job?.static_configs.flatMap((c) => c.targets)).toEqual([`scatter:${adminPort}`]);

    const missing = missingTools(['promtool'], 'apt-get install prometheus');
    if (missing.length > 0) return;
    const r = await run('promtool', ['check', 'config', join(root, configPath)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: \d+ rules? found/);
  });

  it('grafana: the provisioned data source is the prometheus service and the default; the dashboard provider reads the mounted dashboard', () => {
    const s = service('grafana');
    const root = join(tmp, 'grafana');
    layOut(s, root);
    const sources = parse(readFileSync(join(root, 'etc/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as {
      datasources: { type: string; url: string; isDefault: boolean }[];
    };
    const prometheusPort = containerPort(service('prometheus').ports![0]!);
    expect(sources.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: `http://prometheus:${prometheusPort}`, isDefault: true })]);
    const providers = parse(readFileSync(join(root, 'etc/grafana/provisioning/dashboards/scatter.yml'), 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    const dashboards = join(root, providers.providers[0]!.options.path);
    expect(statSync(dashboards).isDirectory()).toBe(true);
    const json = JSON.parse(readFileSync(join(dashboards, 'scatter-dashboard.json'), 'utf8')) as {
      templating: { list: { type: string; query: string }[] };
    };
    // The dashboard picks its data source by type: the default Prometheus one provisioned above.
    expect(json.templating.list).toContainEqual(expect.objectContaining({ type: 'datasource', query: 'prometheus' }));
    expect(existsSync(join(root, s.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!))).toBe(true);
  });
});
