/**
 * The log lines an operator looks for (docs/operations.md, "Logs"), each caused for real over TCP
 * against the running target and asserted with its `event` and fields: login, login failure,
 * logout, connection drop (orderly and reset), session reinstatement, TMFs, LU state changes
 * (offline, resize, add, remove, sanitize) and a config change.
 */
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toFileForm } from '../../src/config/file-form.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { read10, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { capturingLogger, startTestTarget, TEST_IQN, type TestTarget } from '../helpers/target.js';
import { waitUntil } from '../helpers/wait.js';

const INITIATOR = 'iqn.2026-11.io.scatter.test:initiator';
const CHAP_IQN = 'iqn.2026-11.io.scatter:logs-chap';
const USER = 'logs-user';
const SECRET = 'logs-secret-0123';
const ISID = Buffer.from([0x80, 0x12, 0x34, 0x56, 0x00, 0x07]);
const MiB = 1024 * 1024;
const TMF = { ABORT_TASK: 1, LUN_RESET: 5, TARGET_WARM_RESET: 6 };

type Line = Record<string, unknown>;
type Raw = { targets: { iqn: string; luns: { lun: number; backstore: Record<string, unknown> }[] }[] };

let t: TestTarget | undefined;
const open: TestInitiator[] = [];
afterEach(async () => {
  for (const i of open.splice(0)) i.close();
  await t?.stop();
  t = undefined;
});

/**
 * A target whose log lines are kept: LUN 0 a 64 MiB file, LUN 1 null, LUN 2 a thin file; and a
 * CHAP target. `events(name)`: its lines with that event; lu_state lines leave out start-up's `ready`.
 */
async function target(): Promise<{ t: TestTarget; events: (name: string) => Line[] }> {
  const cap = capturingLogger();
  t = await startTestTarget(
    (raw, dir) => {
      // A wrong CHAP answer is answered at once: the throttle has its own tests.
      (raw.iscsi as Record<string, unknown>).authThrottle = { failureDelayMs: 0, maxFailureDelayMs: 0 };
      const targets = raw.targets as Raw['targets'];
      targets[0]!.luns.push({ lun: 2, backstore: { type: 'file', path: join(dir, 'thin.img'), size: '8MiB', thin: true } });
      targets.push({ iqn: CHAP_IQN, auth: { method: 'chap', user: USER, secret: SECRET }, luns: [{ lun: 0, backstore: { type: 'null', size: '8MiB' } }] } as Raw['targets'][number]);
    },
    { log: cap.log },
  );
  return { t, events: (name) => cap.lines.filter((l) => l.event === name && l.change !== 'ready') };
}

async function connect(port: number): Promise<TestInitiator> {
  const i = await TestInitiator.connect(port);
  open.push(i);
  return i;
}

async function loggedIn(port: number, isid = ISID): Promise<{ i: TestInitiator; tsih: number }> {
  const i = await connect(port);
  const r = await i.login({ targetName: TEST_IQN, isid });
  expect(r.status).toEqual([0, 0]);
  return { i, tsih: r.tsih };
}

async function lines(events: (name: string) => Line[], name: string, count: number): Promise<Line[]> {
  await waitUntil(() => events(name).length >= count, () => `${count} "${name}" line(s); have ${JSON.stringify(events(name))}`);
  return events(name);
}

function edited(desired: Config, edit: (raw: Raw) => void): Config {
  const raw = structuredClone(toFileForm(desired)) as Raw;
  edit(raw);
  return validateConfig(raw, 'test');
}

describe('session events', () => {
  it('login: initiator, target, ISID, TSIH, digests and the negotiated data segment lengths', async () => {
    const { t, events } = await target();
    const i = await connect(t.port);
    const r = await i.login({ targetName: TEST_IQN, isid: ISID, headerDigest: true, keys: [['MaxRecvDataSegmentLength', '65536']] });
    expect(r.status).toEqual([0, 0]);
    expect(await lines(events, 'login', 1)).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'login complete',
        initiator: INITIATOR,
        target: TEST_IQN,
        sessionType: 'Normal',
        isid: '801234560007',
        tsih: r.tsih,
        cid: 0,
        auth: 'None',
        headerDigest: 'CRC32C',
        dataDigest: 'None',
        maxRecvDataSegmentLength: 262144,
        maxXmitDataSegmentLength: 65536,
        remote: `127.0.0.1:${i.socket.localPort}`,
      }),
    ]);
  });

  it('login failure: the reason, and the target asked for even when it does not exist', async () => {
    const { t, events } = await target();
    const wrong = await connect(t.port);
    expect((await wrong.login({ targetName: CHAP_IQN, chap: { user: USER, secret: 'not-the-secret-000' } })).status).toEqual([2, 1]);
    const missing = await connect(t.port);
    expect((await missing.login({ targetName: 'iqn.2026-11.io.scatter:nope' })).status).toEqual([2, 3]);
    const failed = await lines(events, 'login_failed', 2);
    expect(failed).toEqual([
      expect.objectContaining({ level: 40, msg: 'login failed', reason: 'chap_wrong_secret', status: '0201', initiator: INITIATOR, target: CHAP_IQN, detail: expect.any(String) }),
      expect.objectContaining({ level: 40, reason: 'target_not_found', status: '0203', target: 'iqn.2026-11.io.scatter:nope' }),
    ]);
    expect(events('login')).toEqual([]);
  });

  it('logout: the logout, the session and the connection each end with the cause', async () => {
    const { t, events } = await target();
    const { i, tsih } = await loggedIn(t.port);
    const port = i.socket.localPort;
    expect(await i.logout()).toBe(0);
    await i.waitClosed();
    const session = { tsih, initiator: INITIATOR, target: TEST_IQN };
    expect(await lines(events, 'logout', 1)).toEqual([expect.objectContaining({ ...session, level: 30, reason: 'close_session' })]);
    expect(await lines(events, 'session_closed', 1)).toEqual([
      expect.objectContaining({ ...session, reason: 'logout', sessionType: 'Normal', durationMs: expect.any(Number) }),
    ]);
    const closed = (await lines(events, 'connection_closed', 1)).filter((l) => l.loggedIn === true);
    expect(closed).toEqual([expect.objectContaining({ reason: 'logout', remote: `127.0.0.1:${port}` })]);
  });

  it('connection drop: an orderly close and a reset each name their cause', async () => {
    const { t, events } = await target();
    const orderly = await loggedIn(t.port, Buffer.from([0x80, 0, 0, 0, 0, 1]));
    const reset = await loggedIn(t.port, Buffer.from([0x80, 0, 0, 0, 0, 2]));
    orderly.i.close();
    await lines(events, 'session_closed', 1);
    reset.i.socket.resetAndDestroy();
    const sessions = await lines(events, 'session_closed', 2);
    expect(sessions).toEqual([
      expect.objectContaining({ tsih: orderly.tsih, reason: 'closed by the initiator' }),
      expect.objectContaining({ tsih: reset.tsih, reason: 'socket error ECONNRESET' }),
    ]);
    expect(events('connection_closed').map((l) => [l.reason, l.loggedIn])).toEqual([
      ['closed by the initiator', true],
      ['socket error ECONNRESET', true],
    ]);
  });

  it('session reinstatement: the new session names the one it replaced', async () => {
    const { t, events } = await target();
    const first = await loggedIn(t.port);
    const second = await loggedIn(t.port);
    await first.i.waitClosed();
    expect(await lines(events, 'session_reinstated', 1)).toEqual([
      expect.objectContaining({ level: 30, tsih: second.tsih, replacedTsih: first.tsih, reinstated: 'session', isid: '801234560007', initiator: INITIATOR, target: TEST_IQN }),
    ]);
    expect((await lines(events, 'session_closed', 1))[0]).toMatchObject({ tsih: first.tsih, reason: 'session reinstated' });
  });

  it('TMFs: LUN and target resets at info with function, LUN and response; ABORT TASK not at info', async () => {
    const { t, events } = await target();
    const { i, tsih } = await loggedIn(t.port);
    expect(await i.tmf(TMF.ABORT_TASK, { lun: 0, refItt: 0x1234 })).toBe(1); // task does not exist
    expect(await i.tmf(TMF.LUN_RESET, { lun: 1 })).toBe(0);
    expect(await i.tmf(TMF.TARGET_WARM_RESET)).toBe(0);
    // The resets were answered after the ABORT TASK: its line would be here by now.
    expect(await lines(events, 'tmf', 2)).toEqual([
      expect.objectContaining({ level: 30, msg: 'task management', function: 'logical_unit_reset', lun: 1, response: 'complete', tsih, initiator: INITIATOR, target: TEST_IQN }),
      expect.objectContaining({ level: 30, function: 'target_warm_reset', response: 'complete', tsih }),
    ]);
  });
});

describe('LU state and config events', () => {
  it('a backing file truncated under a LUN: one lu_state offline line, however many commands fail after it', async () => {
    const { t, events } = await target();
    const { i } = await loggedIn(t.port);
    await i.command({ cdb: testUnitReady() }); // the power-on unit attention
    expect((await i.command({ cdb: write10(0, 2048), write: Buffer.alloc(MiB, 1) })).status).toBe(0);
    const path = join(t.dir, 'lun0.img');
    truncateSync(path, 256 * 1024);
    for (let n = 0; n < 3; n++) expect((await i.command({ cdb: read10(1024, 8), read: 4096 })).status).toBe(2);
    expect(await lines(events, 'lu_state', 1)).toEqual([
      expect.objectContaining({ level: 50, change: 'offline', target: TEST_IQN, lun: 0, path, cause: 'truncated', reason: expect.any(String) }),
    ]);
    expect(events('backstore_error')).toEqual([expect.objectContaining({ level: 50, msg: 'backstore error', lun: 0, cause: 'truncated' })]);
  });

  it('a config change: config_applied with its steps, lu_state for the LUN grown, added and removed', async () => {
    const { t, events } = await target();
    const { control } = t.scatter;
    await control.change((d) =>
      edited(d, (raw) => {
        const luns = raw.targets[0]!.luns;
        luns[0]!.backstore.size = '96MiB';
        luns.splice(1, 1); // LUN 1 (null) removed
        luns.push({ lun: 3, backstore: { type: 'null', size: '16MiB' } });
      }),
    );
    const applied = await lines(events, 'config_applied', 1);
    expect(applied).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'config changed',
        via: 'api',
        revision: control.revision,
        steps: [`add ${TEST_IQN} LUN 3 (null)`, `remove ${TEST_IQN} LUN 1`, `grow ${TEST_IQN} LUN 0 to ${96 * MiB} bytes`],
        needsRestart: [],
      }),
    ]);
    expect(events('lu_state')).toEqual([
      expect.objectContaining({ change: 'added', target: TEST_IQN, lun: 3, backstore: 'null', size: 16 * MiB }),
      expect.objectContaining({ change: 'removed', target: TEST_IQN, lun: 1 }),
      expect.objectContaining({ change: 'resized', target: TEST_IQN, lun: 0, path: join(t.dir, 'lun0.img'), oldSize: 64 * MiB, newSize: 96 * MiB }),
    ]);
  });

  it('SANITIZE BLOCK ERASE: lu_state when it starts and when it completes', async () => {
    const { t, events } = await target();
    const { i } = await loggedIn(t.port);
    await i.command({ cdb: testUnitReady(), lun: 2 });
    const blockErase = Buffer.from([0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect((await i.command({ cdb: blockErase, lun: 2 })).status).toBe(0);
    expect(await lines(events, 'lu_state', 2)).toEqual([
      expect.objectContaining({ level: 30, change: 'sanitize_started', target: TEST_IQN, lun: 2, operation: 'BLOCK ERASE', ause: false }),
      expect.objectContaining({ level: 30, change: 'sanitize_completed', target: TEST_IQN, lun: 2 }),
    ]);
  });
});
