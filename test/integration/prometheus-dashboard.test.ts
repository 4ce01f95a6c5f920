/**
 * The shipped observability stack against a real Prometheus: config/prometheus.yml (1 s scrapes)
 * with its alert rules scrapes a real Scatter while a mixed workload runs over real sessions —
 * reads, writes, CHECK CONDITIONs, TASK SET FULL from an empty bounce pool, a stranger refused by
 * an ACL, a login to a target that does not exist, a backing file truncated behind the target.
 * Then every query of every panel of docker/grafana/scatter-dashboard.json goes through
 * Prometheus's HTTP API, as Grafana would send it, and must show data with the labels its legend
 * names; the rules must evaluate cleanly and the ones this workload trips must be active.
 */
import { readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { scrape } from '../helpers/metrics.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { missingTools } from '../helpers/tools.js';
import { waitUntil } from '../helpers/wait.js';
import { grafanaExpr, loadDashboard, panelQueries, type PanelQuery } from '../prometheus/dashboard.js';
import { Prometheus, type PromSeries } from '../prometheus/prometheus-proc.js';

const GOOD = 0x00;
const CHECK_CONDITION = 0x02;
const BUSY = 0x08;
const TASK_SET_FULL = 0x28;
/** A target that admits only DB (its ACL). */
const GUARDED = 'iqn.2026-11.io.scatter:guarded';
const DB = 'iqn.2026-11.io.example:db';
const STRANGER = 'iqn.2026-11.io.example:stranger';
/** LUN 1 of TEST_IQN: O_DIRECT, so writes from socket buffers need bounce pages. */
const DIRECT_LUN = 1;
/** LUN 2 of TEST_IQN: its backing file is truncated during the workload. */
const FRAGILE_LUN = 2;
/** Grafana's $__rate_interval for a 1 s scrape interval, with room for a late scrape on a busy machine. */
const RATE_INTERVAL = '10s';

const missing = missingTools(['prometheus'], 'apt-get install prometheus');
const queries = panelQueries(loadDashboard());

let t: TestTarget;
let prom: Prometheus;
/** Unix seconds: the range every panel query covers. */
let start = 0;
let end = 0;

beforeAll(async () => {
  if (missing.length > 0) return;
  t = await startTestTarget((raw, dir) => {
    // A tiny pool that gives up quickly: held by the test, it turns bounced writes into TASK SET FULL.
    raw.memory = { poolPages: 4, pageSize: 4096, poolWaitMs: 50 };
    raw.targets = [
      {
        iqn: TEST_IQN,
        luns: [
          { lun: 0, backstore: { type: 'file', path: join(dir, 'lun0.img'), size: '16MiB' } },
          { lun: DIRECT_LUN, backstore: { type: 'file', path: join(dir, 'direct.img'), size: '4MiB', direct: true } },
          { lun: FRAGILE_LUN, backstore: { type: 'file', path: join(dir, 'fragile.img'), size: '4MiB' } },
        ],
      },
      { iqn: GUARDED, acls: [{ initiator: DB }], luns: [{ lun: 0, backstore: { type: 'null', size: '8MiB' } }] },
    ];
  });
  prom = await Prometheus.start(`127.0.0.1:${t.scatter.adminPort!}`);
  // The workload must come after a first scrape, or its counters would appear already raised and
  // rate() would see no increase.
  await waitUntil(async () => (await prom.targetHealth()).join() === 'up', 'Prometheus has scraped Scatter', {
    timeoutMs: 20_000,
    pollMs: 100,
  });
  start = Math.floor(Date.now() / 1000) - 1;
  await workload();
  await prometheusHasSeen();
  end = Math.ceil(Date.now() / 1000);
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  await t?.stop();
});

async function login(targetName: string, initiatorName?: string): Promise<{ i: TestInitiator; status: [number, number] }> {
  const i = await TestInitiator.connect(t.port);
  const { status } = await i.login({ targetName, ...(initiatorName ? { initiatorName } : {}) });
  return { i, status };
}

async function session(targetName: string, initiatorName?: string): Promise<TestInitiator> {
  const { i, status } = await login(targetName, initiatorName);
  expect(status).toEqual([0, 0]);
  return i;
}

async function instant(expr: string): Promise<number | undefined> {
  const r = await prom.query(expr);
  return r.length === 1 ? Number(r[0]!.value![1]) : undefined;
}

async function workload(): Promise<void> {
  const a = await session(TEST_IQN);
  // The power-on unit attention: a CHECK CONDITION on each LUN's first command.
  for (const lun of [0, DIRECT_LUN, FRAGILE_LUN]) expect((await a.command({ lun, cdb: testUnitReady() })).status).toBe(CHECK_CONDITION);
  const data = Buffer.alloc(8 * 512, 0x5a);
  for (let k = 0; k < 8; k++) {
    expect((await a.command({ cdb: write10(k * 8, 8), write: data })).status).toBe(GOOD);
    expect((await a.command({ cdb: read10(k * 8, 8), read: data.length })).status).toBe(GOOD);
  }
  // Past the end of the 16 MiB LUN: ILLEGAL REQUEST.
  expect(senseCodes((await a.command({ cdb: read10(16 * 2048, 1), read: 512 })).sense)).toEqual([0x05, 0x21, 0x00]);

  // Every page of the pool held: the bounced writes wait 50 ms for one and are refused.
  const held = await t.scatter.pool.alloc(t.scatter.pool.capacity);
  let refused: number[];
  try {
    const writes = [0, 1].map((k) => a.command({ lun: DIRECT_LUN, cdb: write10(k * 8, 8), write: data }));
    refused = (await Promise.all(writes)).map((r) => r.status);
  } finally {
    t.scatter.pool.free(held);
  }
  for (const s of refused) expect([TASK_SET_FULL, BUSY]).toContain(s);
  expect((await a.command({ lun: DIRECT_LUN, cdb: write10(0, 8), write: data })).status).toBe(GOOD);

  // The ACL's initiator, holding a session until Prometheus has seen it.
  const db = await session(GUARDED, DB);
  expect((await db.command({ cdb: testUnitReady() })).status).toBe(CHECK_CONDITION);
  expect((await db.command({ cdb: write10(0, 8), write: data })).status).toBe(GOOD);
  expect((await db.command({ cdb: read10(0, 8), read: data.length })).status).toBe(GOOD);
  await waitUntil(
    async () => (await instant(`scatter_iscsi_initiator_sessions{target="${GUARDED}", initiator="${DB}"}`)) === 1,
    'Prometheus sees the ACL initiator session',
    { timeoutMs: 20_000, pollMs: 100 },
  );

  // Refused logins: a stranger to the ACL (0202), a target that does not exist (0203).
  for (const [target, initiator, status] of [
    [GUARDED, STRANGER, [2, 2]],
    ['iqn.2026-11.io.scatter:nowhere', undefined, [2, 3]],
  ] as const) {
    const r = await login(target, initiator);
    expect(r.status).toEqual(status);
    r.i.close();
  }

  // The backing file cut short behind the target: a read past its new end is a MEDIUM ERROR and
  // the LU goes offline (NOT READY).
  truncateSync(join(t.dir, 'fragile.img'), 256 * 1024);
  expect(senseCodes((await a.command({ lun: FRAGILE_LUN, cdb: read10(1024, 8), read: 4096 })).sense)).toEqual([0x03, 0x11, 0x00]);
  expect(senseCodes((await a.command({ lun: FRAGILE_LUN, cdb: testUnitReady() })).sense)).toEqual([0x02, 0x04, 0x03]);

  await a.logout();
  await db.logout();
}

/** Waits until Prometheus holds the target's final counter and gauge values (read from /metrics). */
async function prometheusHasSeen(): Promise<void> {
  await waitUntil(
    async () => (await scrape(t.scatter.adminPort!)).exposition.select('scatter_iscsi_sessions', { type: 'normal' }).every((s) => s.value === 0),
    'the target has closed both sessions',
    { pollMs: 20 },
  );
  const m = (await scrape(t.scatter.adminPort!)).exposition;
  const T = { target: TEST_IQN };
  const final: [string, Record<string, string>][] = [
    ['scatter_scsi_task_set_full_total', T],
    ['scatter_scsi_commands_total', { ...T, class: 'read' }],
    ['scatter_scsi_check_conditions_total', { ...T, sense_key: 'NOT_READY' }],
    ['scatter_backstore_errors_total', { ...T, lun: String(FRAGILE_LUN), cause: 'truncated' }],
    ['scatter_lun_up', { ...T, lun: String(FRAGILE_LUN) }],
    ['scatter_iscsi_login_failures_total', { reason: 'not_in_acl' }],
    ['scatter_iscsi_login_failures_total', { reason: 'target_not_found' }],
    ['scatter_iscsi_initiator_sessions', { target: GUARDED, initiator: DB }],
    ['scatter_iscsi_sessions', { ...T, type: 'normal' }],
  ];
  for (const [name, labels] of final) {
    const want = m.value(name, labels);
    const selector = `${name}{${Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}}`;
    await waitUntil(async () => (await instant(selector)) === want, `Prometheus has ${selector} = ${want}`, { timeoutMs: 20_000, pollMs: 100 });
  }
  expect(m.value('scatter_scsi_task_set_full_total', T)).toBe(2);
  expect(m.value('scatter_lun_up', { ...T, lun: String(FRAGILE_LUN) })).toBe(0);
}

/** Alert names in config/prometheus-rules.yml. */
function shippedAlerts(): string[] {
  const file = parse(readFileSync(new URL('../../config/prometheus-rules.yml', import.meta.url), 'utf8')) as { groups: { rules: { alert: string }[] }[] };
  return file.groups.flatMap((g) => g.rules.map((r) => r.alert));
}

const range = (expr: string): Promise<PromSeries[]> => prom.queryRange(expr, start, end, 1);
const finite = (s: PromSeries): number[] => (s.values ?? []).map(([, v]) => Number(v)).filter(Number.isFinite);
const last = (s: PromSeries): number => Number(s.values!.at(-1)![1]);

describe.skipIf(missing.length > 0)('the Grafana dashboard against a real Prometheus', () => {
  it('has queries on every panel', () => {
    expect(queries.length).toBeGreaterThan(25);
    for (const p of loadDashboard().panels) expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
  });

  it.each(queries.map((q): [string, PanelQuery] => [`${q.panel} (${q.refId})`, q]))('panel %s shows data with its legend labels', async (name, q) => {
    const result = await range(grafanaExpr(q.expr, RATE_INTERVAL));
    expect(result.length, `panel "${name}" returned nothing: ${q.expr}`).toBeGreaterThan(0);
    expect(result.flatMap(finite).length, `panel "${name}" has no finite value: ${q.expr}`).toBeGreaterThan(0);
    for (const s of result) {
      for (const label of q.legendLabels) expect(s.metric[label], `panel "${name}": series ${JSON.stringify(s.metric)} lacks ${label}`).toBeTruthy();
    }
  });

  it('its variables list the targets and the job', async () => {
    expect(await prom.labelValues('target', 'scatter_scsi_commands_total')).toEqual(expect.arrayContaining([TEST_IQN, GUARDED]));
    expect(await prom.labelValues('job', 'scatter_scsi_commands_total')).toEqual(['scatter']);
  });

  /** The one query of the panel titled `title`, as Grafana sends it. */
  const panel = (title: string, refId = 'A'): Promise<PromSeries[]> => {
    const q = queries.find((x) => x.panel === title && x.refId === refId);
    if (!q) throw new Error(`no panel "${title}" ${refId}`);
    return range(grafanaExpr(q.expr, RATE_INTERVAL));
  };

  it('shows the workload: sense keys, TASK SET FULL, refused pool allocations', async () => {
    const senseKeys = (await panel('Errors', 'A')).map((s) => s.metric.sense_key);
    expect(senseKeys).toEqual(expect.arrayContaining(['UNIT_ATTENTION', 'ILLEGAL_REQUEST', 'MEDIUM_ERROR', 'NOT_READY']));
    expect(Math.max(...(await panel('Errors', 'B')).flatMap(finite))).toBeGreaterThan(0);
    expect((await panel('Errors', 'D')).map((s) => s.metric.code)).toContain('POOL_EXHAUSTED');
  });

  it('shows sessions by target and initiator, naming only ACL entries', async () => {
    const series = await panel('Sessions by target and initiator');
    const of = (target: string, initiator: string) => series.find((s) => s.metric.target === target && s.metric.initiator === initiator);
    expect(Math.max(...finite(of(GUARDED, DB)!))).toBe(1);
    expect(Math.max(...finite(of(TEST_IQN, 'other')!))).toBe(1);
    expect(last(of(GUARDED, DB)!)).toBe(0);
    // The stranger and the test initiator's own name never become label values.
    expect(new Set(series.map((s) => s.metric.initiator))).toEqual(new Set([DB, 'other']));
  });

  it('shows login failures by reason, LU state and backstore errors', async () => {
    expect((await panel('Login failures by reason')).map((s) => s.metric.reason)).toEqual(expect.arrayContaining(['not_in_acl', 'target_not_found']));
    const state = await panel('LU state');
    const lu = (lun: number) => state.find((s) => s.metric.target === TEST_IQN && s.metric.lun === String(lun))!;
    expect(last(lu(FRAGILE_LUN))).toBe(2); // offline
    expect(last(lu(0))).toBe(0); // serving
    expect(last(state.find((s) => s.metric.target === GUARDED)!)).toBe(0);
    const errors = await panel('Backstore errors');
    expect(errors.map((s) => [s.metric.target, s.metric.lun, s.metric.cause])).toEqual([[TEST_IQN, String(FRAGILE_LUN), 'truncated']]);
  });
});

describe.skipIf(missing.length > 0)('the alert rules in a real Prometheus', () => {
  it('evaluate without errors, and the ones this workload trips are active', async () => {
    type Active = [alert: string, labels: Record<string, string>, states: string[]];
    const expected: Active[] = [
      ['ScatterBackstoreErrors', { target: TEST_IQN, lun: String(FRAGILE_LUN), cause: 'truncated' }, ['firing']],
      ['ScatterLunOffline', { target: TEST_IQN, lun: String(FRAGILE_LUN) }, ['pending', 'firing']],
      ['ScatterTargetSessionsLost', { target: GUARDED }, ['pending']],
    ];
    for (const [alert, labels, states] of expected) {
      await waitUntil(
        async () =>
          (await prom.alerts()).some(
            (a) => a.labels.alertname === alert && states.includes(a.state) && Object.entries(labels).every(([k, v]) => a.labels[k] === v),
          ),
        `${alert} ${JSON.stringify(labels)} is ${states.join(' or ')}`,
        { timeoutMs: 20_000, pollMs: 100 },
      );
    }
    // Below their thresholds, in any state: a handful of commands, two refusals, two failed logins, no failed flush.
    const active = new Set((await prom.alerts()).map((a) => a.labels.alertname));
    for (const quiet of ['ScatterHighLatency', 'ScatterTaskSetFullSustained', 'ScatterLoginFailureBurst', 'ScatterWritebackFailed', 'ScatterBackstoreNoSpace']) {
      expect(active, quiet).not.toContain(quiet);
    }
    // Every shipped rule loaded, and none failed to evaluate against the real series (e.g. a many-to-many match).
    const rules = await prom.rules();
    expect(rules.map((r) => r.name).sort()).toEqual(shippedAlerts().sort());
    for (const r of rules) expect([r.name, r.health, r.lastError ?? '']).toEqual([r.name, 'ok', '']);
  });
});
