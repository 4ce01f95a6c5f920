import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { AdminClient } from '../helpers/admin-client.js';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { scrape, type Exposition } from '../helpers/metrics.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { waitUntil } from '../helpers/wait.js';

const GOOD = 0;
const CHECK_CONDITION = 2;
const BUSY = 0x08;
const TASK_SET_FULL = 0x28;
const T = { target: TEST_IQN };
/** LUN 2: an O_DIRECT file, where data that arrives in socket buffers must be bounced (large writes land in aligned pages). */
const DIRECT_LUN = 2;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw, dir) => {
    // A short pool wait, so that the exhaustion test below is refused quickly.
    raw.memory = { ...(raw.memory as object), poolWaitMs: 50 };
    const target = (raw.targets as { luns: unknown[] }[])[0]!;
    target.luns.push({ lun: DIRECT_LUN, backstore: { type: 'file', path: join(dir, 'direct.img'), size: '16MiB', direct: true } });
  });
});
afterAll(() => t.stop());

function adminPort(): number {
  const port = t.scatter.adminPort;
  if (port === undefined) throw new Error('admin listener not started');
  return port;
}

async function metrics(): Promise<Exposition> {
  return (await scrape(adminPort())).exposition;
}

/** A logged-in session with the power-on unit attention of `lun` consumed (one TUR: CHECK CONDITION / UNIT ATTENTION). */
async function session(lun = 0): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  expect((await i.login({ targetName: TEST_IQN })).status).toEqual([0, 0]);
  const tur = await i.command({ lun, cdb: testUnitReady() });
  expect(tur.status).toBe(CHECK_CONDITION);
  expect(senseCodes(tur.sense)?.[0]).toBe(0x06);
  return i;
}

describe('admin listener', () => {
  it('binds 127.0.0.1 by default and answers /healthz', async () => {
    expect(t.config.admin.host).toBe('127.0.0.1');
    const res = await fetch(`http://127.0.0.1:${adminPort()}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    // Not reachable on any other address of this machine.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    if (external) await expect(fetch(`http://${external.address}:${adminPort()}/healthz`)).rejects.toThrow();
  });

  it('serves the text exposition with its content type; unknown paths are 404', async () => {
    const { contentType, exposition } = await scrape(adminPort());
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(exposition.types.get('scatter_scsi_commands_total')).toBe('counter');
    expect(exposition.types.get('scatter_scsi_command_duration_seconds')).toBe('histogram');
    expect(exposition.types.get('scatter_pool_pages_in_use')).toBe('gauge');
    // Process metrics from collectDefaultMetrics on the same registry.
    expect(exposition.select('process_cpu_user_seconds_total')).toHaveLength(1);
    expect(exposition.select('nodejs_heap_size_used_bytes')).toHaveLength(1);
    // Unknown paths are 404 (problem+json) to a client with the admin token; without it, 401 (docs/admin.md).
    const nope = await AdminClient.of(t).get('/nope');
    expect([nope.status, nope.headers.get('content-type')]).toEqual([404, 'application/problem+json; charset=utf-8']);
    expect((await fetch(`http://127.0.0.1:${adminPort()}/nope`)).status).toBe(401);
  });
});

describe('SCSI metrics', () => {
  it('count commands by class and bytes read/written', async () => {
    const before = await metrics();
    const i = await session();
    const data = randomBytes(8 * 512);
    expect((await i.command({ cdb: write10(100, 8), write: data })).status).toBe(GOOD);
    expect((await i.command({ cdb: write10(200, 8), write: data })).status).toBe(GOOD);
    const r = await i.command({ cdb: read10(100, 24), read: 24 * 512 });
    expect(r.status).toBe(GOOD);
    await i.logout();
    const after = await metrics();

    const delta = (name: string, labels: Record<string, string>): number => after.value(name, labels) - before.value(name, labels);
    expect(delta('scatter_scsi_commands_total', { ...T, class: 'write' })).toBe(2);
    expect(delta('scatter_scsi_commands_total', { ...T, class: 'read' })).toBe(1);
    expect(delta('scatter_scsi_commands_total', { ...T, class: 'other' })).toBe(1); // the TUR
    expect(delta('scatter_scsi_written_bytes_total', T)).toBe(2 * 8 * 512);
    expect(delta('scatter_scsi_read_bytes_total', T)).toBe(24 * 512);
    // The same I/O seen by LUN 0's block queue.
    const lun0 = { ...T, lun: '0' };
    expect(delta('scatter_block_requests_total', { ...lun0, op: 'write' })).toBe(2);
    expect(delta('scatter_block_requests_total', { ...lun0, op: 'read' })).toBe(1);
    expect(delta('scatter_block_written_bytes_total', lun0)).toBe(2 * 8 * 512);
    expect(delta('scatter_block_read_bytes_total', lun0)).toBe(24 * 512);
    expect(delta('scatter_block_bios_per_request_count', lun0)).toBe(3);
    expect(delta('scatter_block_bios_total', lun0)).toBe(delta('scatter_block_bios_per_request_sum', lun0));
  });

  it('count CHECK CONDITIONs by sense key', async () => {
    const before = await metrics();
    const i = await session(); // UNIT ATTENTION
    // Past the end of the 64 MiB LUN 0: ILLEGAL REQUEST / LBA OUT OF RANGE.
    const r = await i.command({ cdb: read10(64 * 2048, 1), read: 512 });
    expect(r.status).toBe(CHECK_CONDITION);
    expect(senseCodes(r.sense)).toEqual([0x05, 0x21, 0x00]);
    await i.logout();
    const after = await metrics();

    const delta = (key: string): number =>
      after.value('scatter_scsi_check_conditions_total', { ...T, sense_key: key }) -
      before.value('scatter_scsi_check_conditions_total', { ...T, sense_key: key });
    expect(delta('UNIT_ATTENTION')).toBe(1);
    expect(delta('ILLEGAL_REQUEST')).toBe(1);
    expect(delta('MEDIUM_ERROR')).toBe(0);
    expect(after.select('scatter_scsi_check_conditions_total', T)).toHaveLength(16);
  });

  it('expose the latency histogram as cumulative buckets consistent with the command count', async () => {
    const i = await session();
    expect((await i.command({ cdb: read10(0, 1), read: 512 })).status).toBe(GOOD);
    await i.logout();
    const m = await metrics();
    const name = 'scatter_scsi_command_duration_seconds';
    const commands = m.select('scatter_scsi_commands_total', T).reduce((n, s) => n + s.value, 0);
    const count = m.value(`${name}_count`, T);
    expect(count).toBe(commands);
    expect(m.value(`${name}_bucket`, { ...T, le: '+Inf' })).toBe(count);
    expect(m.value(`${name}_sum`, T)).toBeGreaterThan(0);
    const buckets = m.select(`${name}_bucket`, T);
    expect(buckets.length).toBeGreaterThan(2);
    const values = buckets.map((b) => b.value);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    const bounds = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
    // Every state is accounted; queued and executing time is never negative.
    for (const state of ['received', 'queued', 'executing']) {
      expect(m.value('scatter_scsi_command_state_seconds_total', { ...T, state })).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('block metrics: bounced vs direct', () => {
  it('an O_DIRECT LUN receives large writes into aligned landing pages, bounces small ones from socket buffers, reads straight into pool pages', async () => {
    const lun = { ...T, lun: String(DIRECT_LUN) };
    const before = await metrics();
    const i = await session(DIRECT_LUN);
    const data = randomBytes(64 * 1024);
    // 64 KiB (LANDING_MIN_BYTES): read from the socket into aligned pages, written without a copy.
    expect((await i.command({ lun: DIRECT_LUN, cdb: write10(16, 128), write: data })).status).toBe(GOOD);
    // 32 KiB: below the landing size, so it arrives in socket buffers and is bounced.
    expect((await i.command({ lun: DIRECT_LUN, cdb: write10(400, 64), write: randomBytes(32 * 1024) })).status).toBe(GOOD);
    // A write starting at an odd LBA and of an odd length: still whole blocks, still bounced.
    expect((await i.command({ lun: DIRECT_LUN, cdb: write10(1001, 3), write: randomBytes(3 * 512) })).status).toBe(GOOD);
    const r = await i.command({ lun: DIRECT_LUN, cdb: read10(16, 128), read: data.length });
    expect(r.status).toBe(GOOD);
    expect(r.data.equals(data)).toBe(true);
    await i.logout();
    const after = await metrics();

    const delta = (name: string): number => after.value(name, lun) - before.value(name, lun);
    expect(delta('scatter_block_bounced_bytes_total')).toBe(32 * 1024 + 3 * 512);
    expect(delta('scatter_block_direct_bytes_total')).toBe(64 * 1024 + 64 * 1024);
    expect(delta('scatter_block_written_bytes_total')).toBe(64 * 1024 + 32 * 1024 + 3 * 512);
  });

  it('a buffered file LUN takes writes straight from socket buffers (nothing bounced)', async () => {
    const lun = { ...T, lun: '0' };
    const before = await metrics();
    const i = await session();
    expect((await i.command({ cdb: write10(5000, 9), write: randomBytes(9 * 512) })).status).toBe(GOOD);
    await i.logout();
    const after = await metrics();
    const delta = (name: string): number => after.value(name, lun) - before.value(name, lun);
    expect(delta('scatter_block_direct_bytes_total')).toBe(9 * 512);
    expect(delta('scatter_block_bounced_bytes_total')).toBe(0);
  });

  it('report the bounce pool size and no pages left in use when idle', async () => {
    const i = await session(DIRECT_LUN);
    expect((await i.command({ lun: DIRECT_LUN, cdb: read10(0, 8), read: 4096 })).status).toBe(GOOD);
    await i.logout();
    const m = await metrics();
    const pool = { pool: 'bounce' };
    expect(m.value('scatter_pool_pages', pool)).toBe(64);
    expect(m.value('scatter_pool_page_size_bytes', pool)).toBe(65536);
    expect(m.value('scatter_pool_pages_in_use', pool)).toBe(0);
    expect(m.value('scatter_pool_waiting_requests', pool)).toBe(0);
    expect(m.value('scatter_pool_pages_high_water', pool)).toBeGreaterThan(0);
    expect(m.value('scatter_pool_exhausted_total', pool)).toBe(0);
  });
});

describe('LUNs added and removed at runtime', () => {
  it('appear at the next scrape and leave with their LUN', async () => {
    const lun = validateConfig({ targets: [{ iqn: TEST_IQN, luns: [{ lun: 7, backstore: { type: 'null', size: '1MiB' } }] }] }, 'test')
      .targets[0]!.luns[0]!;
    const seven = { ...T, lun: '7' };
    expect((await metrics()).select('scatter_block_direct_bytes_total', seven)).toHaveLength(0);
    await t.scatter.luns.add(t.config.targets[0]!, lun);
    const i = await session(7);
    expect((await i.command({ lun: 7, cdb: write10(0, 4), write: randomBytes(4 * 512) })).status).toBe(GOOD);
    await i.logout();
    let m = await metrics();
    expect(m.value('scatter_block_direct_bytes_total', seven)).toBe(4 * 512);
    expect(m.value('scatter_block_requests_total', { ...seven, op: 'write' })).toBe(1);
    await t.scatter.luns.remove(TEST_IQN, 7);
    m = await metrics();
    expect(m.select('scatter_block_direct_bytes_total', seven)).toHaveLength(0);
    expect(m.select('scatter_block_direct_bytes_total', { ...T, lun: '0' })).toHaveLength(1);
  });
});

describe('pool exhaustion', () => {
  it('counts refused allocations and the TASK SET FULL answers they cause', async () => {
    const lun = { ...T, lun: String(DIRECT_LUN) };
    const before = await metrics();
    const i = await session(DIRECT_LUN);
    // Every page held: the two bounced writes wait poolWaitMs for pages and are refused.
    const held = await t.scatter.pool.alloc(t.scatter.pool.capacity);
    let statuses: number[];
    try {
      const writes = [0, 1].map((k) => i.command({ lun: DIRECT_LUN, cdb: write10(4096 + k * 8, 8), write: randomBytes(8 * 512) }));
      statuses = (await Promise.all(writes)).map((r) => r.status);
    } finally {
      t.scatter.pool.free(held);
    }
    await i.logout();
    const after = await metrics();

    // TASK SET FULL while the session has another command in flight; the iSCSI layer turns it into
    // BUSY when the session has none. The SCSI core counted both as TASK SET FULL.
    for (const s of statuses) expect([TASK_SET_FULL, BUSY]).toContain(s);
    const delta = (name: string, labels: Record<string, string>): number => after.value(name, labels) - before.value(name, labels);
    expect(delta('scatter_pool_exhausted_total', { pool: 'bounce' })).toBe(2);
    expect(delta('scatter_block_failures_total', { ...lun, code: 'POOL_EXHAUSTED' })).toBe(2);
    expect(delta('scatter_scsi_task_set_full_total', T)).toBe(2);
    expect(delta('scatter_block_bounced_bytes_total', lun)).toBe(0);
  });
});

describe('iSCSI metrics', () => {
  it('count sessions and connections while they exist', async () => {
    const i = await session();
    const during = await metrics();
    expect(during.value('scatter_iscsi_sessions', { ...T, type: 'normal' })).toBe(1);
    expect(during.value('scatter_iscsi_connections')).toBeGreaterThanOrEqual(1);
    await i.logout();
    // The target closes the session when the logout response is out; wait for the close to land.
    await waitUntil(
      async () => (await metrics()).value('scatter_iscsi_sessions', { ...T, type: 'normal' }) === 0,
      'the session gauge drops to 0',
      { pollMs: 20 },
    );
  });
});

describe('admin: enabled false', () => {
  it('starts no listener', async () => {
    const off = await startTestTarget((raw) => {
      raw.admin = { enabled: false };
    });
    try {
      expect(off.scatter.adminPort).toBeUndefined();
    } finally {
      await off.stop();
    }
  });
});
