/** GET/DELETE /v1/sessions against sessions a real initiator holds open over TCP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../helpers/admin-client.js';
import { read10, testUnitReady, write10 } from '../../helpers/cdb.js';
import { TestInitiator } from '../../helpers/initiator.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../../helpers/target.js';
import { waitUntil } from '../../helpers/wait.js';

const INITIATOR = 'iqn.2026-11.io.scatter.test:admin-sessions';

describe('admin API sessions', () => {
  let t: TestTarget;
  let admin: AdminClient;
  beforeAll(async () => {
    t = await startTestTarget();
    admin = AdminClient.of(t);
  });
  afterAll(() => t.stop());

  it('lists a logged-in session with its identity, digests, parameters and counters that grow with I/O', async () => {
    const i = await TestInitiator.connect(t.port);
    try {
      const login = await i.login({
        targetName: TEST_IQN,
        initiatorName: INITIATOR,
        headerDigest: true,
        dataDigest: false,
        initiatorAlias: 'admin-test-host',
        keys: [['MaxRecvDataSegmentLength', '65536']],
      });
      expect(login.status).toEqual([0, 0]);
      const list = await admin.get('/v1/sessions');
      expect(list.status).toBe(200);
      const sessions = list.json!.sessions as Record<string, unknown>[];
      const mine = sessions.find((s) => s.tsih === login.tsih)!;
      expect(mine).toMatchObject({
        id: login.tsih,
        initiatorName: INITIATOR,
        initiatorAlias: 'admin-test-host',
        isid: i.isid.toString('hex'),
        target: TEST_IQN,
        sessionType: 'Normal',
        sourceAddress: i.socket.localAddress,
        sourcePort: i.socket.localPort,
        counters: { commands: 0, readBytes: 0, writtenBytes: 0 },
        params: { initiatorMaxRecvDataSegmentLength: 65536 },
      });
      expect(mine.connections).toEqual([
        {
          cid: expect.any(Number),
          localAddress: i.socket.remoteAddress,
          localPort: t.port,
          remoteAddress: i.socket.localAddress,
          remotePort: i.socket.localPort,
          headerDigest: 'CRC32C',
          dataDigest: 'None',
        },
      ]);
      expect(mine.ageSeconds).toBeGreaterThanOrEqual(0);

      // The first command takes the POWER ON unit attention (CHECK CONDITION); it counts all the same.
      expect((await i.command({ cdb: testUnitReady() })).status).toBe(2);
      const payload = Buffer.alloc(4096, 0x5a);
      expect((await i.command({ cdb: write10(0, 8), write: payload })).status).toBe(0);
      const read = await i.command({ cdb: read10(0, 8), read: 4096 });
      expect(read.data.equals(payload)).toBe(true);
      const one = await admin.get(`/v1/sessions/${login.tsih}`);
      expect(one.status).toBe(200);
      expect(one.json!.counters).toEqual({ commands: 3, readBytes: 4096, writtenBytes: 4096 });
    } finally {
      i.close();
    }
  });

  it('DELETE asks the initiator to log out (Async Message), ends the session after the grace period, and a second DELETE is 404', async () => {
    const i = await TestInitiator.connect(t.port);
    const { tsih } = await i.login({ targetName: TEST_IQN, initiatorName: INITIATOR });
    const asyncLogout = i.waitFor((p) => (p.bhs[0]! & 0x3f) === 0x32);
    const r = await admin.delete(`/v1/sessions/${tsih}?graceMs=300`);
    expect([r.status, r.json]).toEqual([202, { id: tsih, logoutRequested: true, closesWithinMs: 300 }]);
    const msg = await asyncLogout;
    expect(msg.bhs[36]).toBe(1); // AsyncEvent 1: the target requests a logout
    // This initiator ignores the request: the target closes the session once the grace has passed.
    await i.waitClosed(5000);
    await waitUntil(async () => (await admin.get(`/v1/sessions/${tsih}`)).status === 404, 'the session gone from the API');
    const again = await admin.delete(`/v1/sessions/${tsih}`);
    expect(again.status).toBe(404);
    expect(again.json).toMatchObject({ type: 'https://scatter.dev/problems/not-found', detail: `no session with TSIH ${tsih}` });
  });

  it('an id that is not a TSIH is a validation problem naming params.id', async () => {
    const r = await admin.get('/v1/sessions/0');
    expect(r.status).toBe(400);
    expect(r.json!.errors).toEqual([{ path: 'params.id', rule: 'too_small', message: expect.any(String) }]);
  });
});
