import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestInitiator } from '../helpers/initiator.js';
import { inquiry } from '../helpers/cdb.js';
import { startTestTarget, type TestTarget } from '../helpers/target.js';

const ONE_WAY = 'iqn.2026-11.io.scatter:chap';
const MUTUAL = 'iqn.2026-11.io.scatter:mutual';
const USER = 'initiator-user';
const SECRET = 'initiator-secret-123';
const TUSER = 'target-user';
const TSECRET = 'target-secret-4567';

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw, dir) => {
    const targets = raw.targets as Record<string, unknown>[];
    targets.push(
      {
        iqn: ONE_WAY,
        auth: { method: 'chap', user: USER, secret: SECRET },
        luns: [{ lun: 0, backstore: { type: 'file', path: `${dir}/chap.img`, size: '8MiB' } }],
      },
      {
        iqn: MUTUAL,
        auth: { method: 'chap', user: USER, secret: SECRET, mutualUser: TUSER, mutualSecret: TSECRET },
        luns: [{ lun: 0, backstore: { type: 'null', size: '8MiB' } }],
      },
    );
  });
});
afterAll(() => t.stop());

describe('CHAP', () => {
  for (const alg of [5, 6, 7, 8]) {
    it(`one-way CHAP with algorithm ${alg} logs in and serves I/O`, async () => {
      const i = await TestInitiator.connect(t.port);
      const r = await i.login({ targetName: ONE_WAY, chap: { user: USER, secret: SECRET, algorithms: [alg] } });
      expect(r.status).toEqual([0, 0]);
      expect(r.keys.get('CHAP_A')).toBe(String(alg));
      const inq = await i.command({ cdb: inquiry(36), read: 36 });
      expect(inq.status).toBe(0);
      await i.logout();
    });
  }

  it('picks the initiator’s first supported algorithm', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ targetName: ONE_WAY, chap: { user: USER, secret: SECRET, algorithms: [99, 6, 5] } });
    expect(r.status).toEqual([0, 0]);
    expect(r.keys.get('CHAP_A')).toBe('6');
    i.close();
  });

  it('refuses a wrong secret with "authentication failure" only', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ targetName: ONE_WAY, chap: { user: USER, secret: 'wrong-secret-xxxx' } });
    expect(r.status).toEqual([0x02, 0x01]);
    await i.waitClosed();
  });

  it('refuses a wrong user name', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ targetName: ONE_WAY, chap: { user: 'someone-else', secret: SECRET } });
    expect(r.status).toEqual([0x02, 0x01]);
  });

  it('refuses a login without CHAP to a CHAP target', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ targetName: ONE_WAY });
    expect(r.status).toEqual([0x02, 0x01]);
  });

  it('mutual CHAP: the target proves its own secret', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({
      targetName: MUTUAL,
      chap: { user: USER, secret: SECRET, algorithms: [7], mutual: { user: TUSER, secret: TSECRET } },
    });
    expect(r.status).toEqual([0, 0]);
    await i.logout();
  });

  it('mutual CHAP: an initiator expecting another target secret refuses the target', async () => {
    const i = await TestInitiator.connect(t.port);
    await expect(
      i.login({ targetName: MUTUAL, chap: { user: USER, secret: SECRET, mutual: { user: TUSER, secret: 'not-the-target-secret' } } }),
    ).rejects.toThrow(/mutual CHAP/);
  });

  it('mutual CHAP: a target configured for mutual refuses a one-way login', async () => {
    const i = await TestInitiator.connect(t.port);
    const r = await i.login({ targetName: MUTUAL, chap: { user: USER, secret: SECRET } });
    expect(r.status).toEqual([0x02, 0x01]);
  });
});
