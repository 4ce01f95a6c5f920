/**
 * Issue 9 item 20: Login Requests that RFC 7143 §11.12 forbids get a Login Response with the
 * failure status (and the connection closes), and the header rules that already held (version
 * range, ISID/TSIH/CID fixed for the login) keep holding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTextPairs } from '../../src/iscsi/text.js';
import { nopOut } from '../helpers/initiator-pdus.js';
import { RawLogin, finishLogin, freshInitiatorName } from '../helpers/login-raw.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget();
});
afterAll(() => t.stop());

function first(initiatorName = freshInitiatorName('strict'), targetName = TEST_IQN): [string, string][] {
  return [
    ['InitiatorName', initiatorName],
    ['SessionType', 'Normal'],
    ['TargetName', targetName],
    ['AuthMethod', 'None'],
  ];
}

async function refused(login: RawLogin, status: string, f: Parameters<RawLogin['request']>[0], text: [string, string][] | Buffer = []) {
  const r = await login.request(f, text);
  expect(r.status).toBe(status);
  expect(r.transit).toBe(false);
  // RFC 7143 §11.13.4: a response other than the final one of a new session echoes the request's TSIH.
  expect(r.tsih).toBe(f.tsih ?? 0);
  await login.waitClosed();
  return r;
}

describe('RFC 7143 §11.12 strictness', () => {
  it('T=1 together with C=1 on the first request is an initiator error (0200)', async () => {
    const login = await RawLogin.connect(t.port);
    await refused(login, '0200', { transit: true, cont: true, csg: 0, nsg: 1 }, encodeTextPairs(first()).subarray(0, 25));
  });

  it('T=1 together with C=1 later in the login is an initiator error (0200)', async () => {
    const login = await RawLogin.connect(t.port);
    const ok = await login.request({ transit: true, csg: 0, nsg: 1 }, first());
    expect(ok.status).toBe('0000');
    expect(ok.transit).toBe(true);
    await refused(login, '0200', { transit: true, cont: true, csg: 1, nsg: 3 }, [['HeaderDigest', 'None']]);
  });

  it('CSG=3 (full feature phase) as the current stage is an initiator error (0200)', async () => {
    for (const transit of [false, true]) {
      const login = await RawLogin.connect(t.port);
      await refused(login, '0200', { transit, csg: 3, nsg: 3 }, first());
    }
  });

  it('CSG=2 (reserved) is an initiator error (0200)', async () => {
    const login = await RawLogin.connect(t.port);
    await refused(login, '0200', { transit: false, csg: 2, nsg: 0 }, first());
  });

  it('a transit backwards or to the reserved stage is an initiator error (0200)', async () => {
    for (const [csg, nsg] of [
      [1, 0],
      [1, 1],
      [0, 2],
    ] as const) {
      const login = await RawLogin.connect(t.port);
      await refused(login, '0200', { transit: true, csg, nsg }, first());
    }
  });

  it.each([
    ['not a name at all', 'initiator'],
    ['an iqn without date', 'iqn.example.com:host'],
    ['an iqn with month 13', 'iqn.2026-13.io.example:host'],
    ['spaces', 'iqn.2026-11.io.example:my host'],
    ['an eui of the wrong length', 'eui.0123456789abcd'],
    ['a 300-byte name', `iqn.2026-11.io.example:${'x'.repeat(300)}`],
  ])('an InitiatorName that is not an iSCSI name (%s) is an initiator error (0200)', async (_what, name) => {
    const login = await RawLogin.connect(t.port);
    await refused(login, '0200', { transit: true, csg: 0, nsg: 1 }, first(name));
  });

  it('an InitiatorName in upper case is the same name case-folded (RFC 3722) and accepted', async () => {
    const login = await RawLogin.connect(t.port);
    const r = await login.request({ transit: true, csg: 0, nsg: 1 }, first('iqn.1991-05.COM.Microsoft:Host-A'));
    expect(r.status).toBe('0000');
    const done = await finishLogin(login);
    expect(done.status).toBe('0000');
    expect(done.tsih).toBeGreaterThan(0);
    login.close();
  });

  it('a missing InitiatorName is "missing parameter" (0207)', async () => {
    const login = await RawLogin.connect(t.port);
    await refused(login, '0207', { transit: true, csg: 0, nsg: 1 }, [['TargetName', TEST_IQN]]);
  });

  it('a missing TargetName in a Normal session is "missing parameter" (0207)', async () => {
    const login = await RawLogin.connect(t.port);
    await refused(login, '0207', { transit: true, csg: 0, nsg: 1 }, [['InitiatorName', freshInitiatorName('notarget')]]);
  });

  it('a continued login for an unknown target ends with "target not found" (0203), not 0000', async () => {
    const login = await RawLogin.connect(t.port);
    const text = encodeTextPairs(first(freshInitiatorName('cont'), 'iqn.2026-11.io.scatter:missing'));
    for (let offset = 0; offset < text.length; offset += 16) {
      const last = offset + 16 >= text.length;
      const r = await login.request({ transit: last, cont: !last, csg: 0, nsg: 1 }, text.subarray(offset, offset + 16));
      if (!last) {
        expect(r.status).toBe('0000');
        expect(r.data.length).toBe(0);
      } else {
        expect(r.status).toBe('0203');
      }
    }
    await login.waitClosed();
  });

  it('a later request naming another initiator or target is an initiator error (0200)', async () => {
    const login = await RawLogin.connect(t.port);
    expect((await login.request({ transit: false, csg: 0, nsg: 1 }, first())).status).toBe('0000');
    await refused(login, '0200', { transit: true, csg: 0, nsg: 1 }, [['InitiatorName', freshInitiatorName('other')]]);
  });

  it('an unsupported version range is refused (0205)', async () => {
    const login = await RawLogin.connect(t.port);
    await refused(login, '0205', { transit: true, csg: 0, nsg: 1, versionMin: 1, versionMax: 2 }, first());
  });

  it.each([
    ['ISID', { isid: Buffer.from([0x80, 0, 0, 0x43, 0, 1]) }],
    ['TSIH', { tsih: 7 }],
    ['CID', { cid: 3 }],
  ] as const)('a %s that changes during login is an initiator error (0200)', async (_field, change) => {
    const login = await RawLogin.connect(t.port);
    expect((await login.request({ transit: false, csg: 0, nsg: 1 }, first())).status).toBe('0000');
    await refused(login, '0200', { transit: true, csg: 0, nsg: 1, ...change }, []);
  });

  it('a PDU other than a Login Request during login is "invalid during login" (020b)', async () => {
    const login = await RawLogin.connect(t.port);
    expect((await login.request({ transit: false, csg: 0, nsg: 1 }, first())).status).toBe('0000');
    login.socket.write(nopOut({ immediate: true, itt: 5, ttt: 0xffffffff, cmdSN: 1, expStatSN: 1, dataLength: 0 }));
    const r = await login.next();
    expect(r.status).toBe('020b');
    await login.waitClosed();
  });
});
