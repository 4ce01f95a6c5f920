/** GET /v1/logins: a failed CHAP login with its precise reason, a successful one, and an unknown target. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../helpers/admin-client.js';
import { TestInitiator } from '../../helpers/initiator.js';
import { TEST_IQN, capturingLogger, startTestTarget, type TestTarget } from '../../helpers/target.js';

const USER = 'admin-test-user';
const SECRET = 'a-chap-secret-of-16+';
const INITIATOR = 'iqn.2026-11.io.scatter.test:admin-logins';

describe('admin API login attempts', () => {
  let t: TestTarget;
  let admin: AdminClient;
  const cap = capturingLogger();
  beforeAll(async () => {
    t = await startTestTarget(
      (raw) => {
        (raw.targets as Record<string, unknown>[])[0]!.auth = { method: 'chap', user: USER, secret: SECRET };
        // No delay after a failed CHAP answer: this test is about the record, not the brake.
        raw.iscsi = { ...(raw.iscsi as object), authThrottle: { failureDelayMs: 0, lockoutAfterFailures: 0 } };
      },
      { log: cap.log },
    );
    admin = AdminClient.of(t);
  });
  afterAll(() => t.stop());

  async function attempt(opts: Parameters<TestInitiator['login']>[0]): Promise<[number, number]> {
    const i = await TestInitiator.connect(t.port);
    try {
      return (await i.login(opts)).status;
    } finally {
      i.close();
    }
  }

  it('records a wrong CHAP secret, an unknown target and a success, newest first, with the same reason the log has', async () => {
    expect(await attempt({ targetName: TEST_IQN, initiatorName: INITIATOR, chap: { user: USER, secret: 'not-the-secret-16+' } })).toEqual([2, 1]);
    expect(await attempt({ targetName: 'iqn.2026-11.io.scatter:nope', initiatorName: INITIATOR })).toEqual([2, 3]);
    expect(await attempt({ targetName: TEST_IQN, initiatorName: INITIATOR, chap: { user: USER, secret: SECRET } })).toEqual([0, 0]);

    const r = await admin.get(`/v1/logins?initiator=${encodeURIComponent(INITIATOR.toUpperCase())}`);
    expect(r.status).toBe(200);
    const logins = r.json!.logins as Record<string, unknown>[];
    expect(logins).toHaveLength(3);
    expect(logins[0]).toMatchObject({ outcome: 'success', initiatorName: INITIATOR, target: TEST_IQN, sessionType: 'Normal', tsih: expect.any(Number) });
    expect(logins[1]).toMatchObject({ outcome: 'failure', reason: 'target_not_found', target: 'iqn.2026-11.io.scatter:nope', sourceAddress: '127.0.0.1' });
    expect(logins[2]).toMatchObject({ outcome: 'failure', reason: 'chap_wrong_secret', target: TEST_IQN, detail: expect.any(String) });
    expect(Date.parse(logins[2]!.at as string)).toBeLessThanOrEqual(Date.parse(logins[0]!.at as string));
    // The failure is logged once, at warn, with the same reason.
    const warned = cap.messages('login failed').filter((l) => l.initiator === INITIATOR);
    expect(warned.map((l) => [l.level, l.reason])).toEqual([
      [40, 'chap_wrong_secret'],
      [40, 'target_not_found'],
    ]);

    const failures = await admin.get('/v1/logins?outcome=failure');
    expect((failures.json!.logins as { outcome: string }[]).every((l) => l.outcome === 'failure')).toBe(true);
  });
});
