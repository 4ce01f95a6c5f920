/**
 * Issue 9 item 1: a login is identified (initiator, target, session type, the target's
 * authentication requirement) from its first COMPLETE text, whether that text came in one
 * PDU or was continued with the C bit. Every C/T combination of the first request, on a CHAP
 * target, on a discovery session with discovery CHAP and on an unknown target, gets the exact
 * status; AuthMethod=None never gets past the security stage of a CHAP target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTextPairs } from '../../src/iscsi/text.js';
import { RawLogin, chapAttempt, finishLogin, freshInitiatorName, type LoginReply } from '../helpers/login-raw.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const CHAP_TARGET = 'iqn.2026-11.io.scatter:identify-chap';
const UNKNOWN = 'iqn.2026-11.io.scatter:no-such-target';
const USER = 'identify-user';
const SECRET = 'identify-secret-1234';
const DUSER = 'discovery-user';
const DSECRET = 'discovery-secret-5678';

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw) => {
    (raw.targets as Record<string, unknown>[]).push({
      iqn: CHAP_TARGET,
      auth: { method: 'chap', user: USER, secret: SECRET },
      luns: [{ lun: 0, backstore: { type: 'null', size: '8MiB' } }],
    });
    raw.discoveryAuth = { method: 'chap', user: DUSER, secret: DSECRET };
    // These tests make no CHAP guesses; keep the throttle out of the timings all the same.
    (raw.iscsi as Record<string, unknown>).authThrottle = { failureDelayMs: 0, maxFailureDelayMs: 0 };
  });
});
afterAll(() => t.stop());

type Offer = 'None' | 'CHAP' | 'CHAP,None' | undefined;

interface FirstRequest {
  sessionType: 'Normal' | 'Discovery';
  targetName?: string;
  offer: Offer;
  /** C bit on the first PDU: the text is sent in two PDUs, cut inside the InitiatorName value. */
  cont: boolean;
  /** T bit on the first PDU (and on the completing one unless `completingTransit` says otherwise). */
  transit: boolean;
  /** T bit on the PDU that completes a continued text. */
  completingTransit?: boolean;
  /** Stage the login starts in: 0 security, 1 operational (skips security). */
  csg: 0 | 1;
}

function firstText(r: FirstRequest): Buffer {
  const pairs: [string, string][] = [
    ['InitiatorName', freshInitiatorName('identify')],
    ['SessionType', r.sessionType],
  ];
  if (r.targetName !== undefined) pairs.push(['TargetName', r.targetName]);
  if (r.offer !== undefined) pairs.push(['AuthMethod', r.offer]);
  return encodeTextPairs(pairs);
}

/**
 * Send the first request as configured; returns every reply and the reply to the PDU that
 * completed the text (undefined when the target refused the first PDU already).
 */
async function sendFirst(login: RawLogin, r: FirstRequest): Promise<{ replies: LoginReply[]; completing?: LoginReply }> {
  const text = firstText(r);
  const nsg = r.csg === 0 ? 1 : 3;
  const replies: LoginReply[] = [];
  if (r.cont) {
    const head = await login.request({ transit: r.transit, cont: true, csg: r.csg, nsg }, text.subarray(0, 20));
    replies.push(head);
    if (head.status !== '0000') return { replies };
    // The answer to a partial request is an empty "go on" in the same stage.
    expect(head.transit).toBe(false);
    expect(head.cont).toBe(false);
    expect(head.data.length).toBe(0);
    const completing = await login.request({ transit: r.completingTransit ?? r.transit, csg: r.csg, nsg }, text.subarray(20));
    replies.push(completing);
    return { replies, completing };
  }
  const completing = await login.request({ transit: r.transit, csg: r.csg, nsg }, text);
  replies.push(completing);
  return { replies, completing };
}

/**
 * After a "0000" in the security stage without CHAP, try to get further anyway: first ask to
 * jump from security straight to full feature phase, then simply claim the operational stage.
 */
async function tryToBypass(login: RawLogin, replies: LoginReply[]): Promise<LoginReply> {
  let last = await login.request({ transit: true, csg: 0, nsg: 3 }, []);
  replies.push(last);
  if (last.status !== '0000') return last;
  last = await login.request({ transit: true, csg: 1, nsg: 3 }, [
    ['HeaderDigest', 'None'],
    ['DataDigest', 'None'],
  ]);
  replies.push(last);
  return last;
}

function neverPastSecurity(replies: LoginReply[]): void {
  for (const r of replies) {
    // No reply may agree to leave the security stage or hand out a session.
    expect(r.status !== '0000' || !r.transit, `reply agreed to transit: ${JSON.stringify(r.keys)}`).toBe(true);
    expect(r.tsih).toBe(0);
    expect(r.keys.get('AuthMethod')).not.toBe('None');
  }
}

const offers: Offer[] = ['None', 'CHAP', 'CHAP,None', undefined];
const combos: { cont: boolean; transit: boolean; completingTransit?: boolean }[] = [
  { cont: false, transit: false },
  { cont: false, transit: true },
  { cont: true, transit: false },
  { cont: true, transit: false, completingTransit: true },
  { cont: true, transit: true },
];

function comboName(c: { cont: boolean; transit: boolean; completingTransit?: boolean }): string {
  const first = `C=${Number(c.cont)} T=${Number(c.transit)}`;
  return c.completingTransit === undefined ? first : `${first} then C=0 T=${Number(c.completingTransit)}`;
}

/** The exact first-failure status expected for a CHAP-protected login (target or discovery). */
function expectedOnChapProtected(r: FirstRequest): { completing: string; final: string } {
  if (r.cont && r.transit) return { completing: '', final: '0200' }; // RFC 7143 §11.12.2: T=1 with C=1
  if (r.csg === 1) return { completing: '0201', final: '0201' }; // skipped the security stage
  if (r.offer === 'None') return { completing: '0201', final: '0201' };
  if (r.offer === undefined) {
    // Without any AuthMethod: a transit request is refused; otherwise the target waits for one.
    const transit = r.completingTransit ?? r.transit;
    return transit ? { completing: '0201', final: '0201' } : { completing: '0000', final: '0201' };
  }
  // CHAP chosen but not done: no transit; claiming the operational stage later is a protocol error.
  return { completing: '0000', final: '0200' };
}

function runChapProtectedMatrix(sessionType: 'Normal' | 'Discovery', targetName: string | undefined): void {
  for (const csg of [0, 1] as const) {
    for (const offer of offers) {
      for (const combo of combos) {
        const r: FirstRequest = { sessionType, targetName, offer, csg, ...combo };
        const expected = expectedOnChapProtected(r);
        it(`CSG=${csg} ${comboName(combo)} AuthMethod=${offer ?? '(none)'} ends ${expected.final}`, async () => {
          const login = await RawLogin.connect(t.port);
          const { replies, completing } = await sendFirst(login, r);
          if (expected.completing === '') {
            expect(completing).toBeUndefined();
          } else {
            expect(completing?.status).toBe(expected.completing);
          }
          let final = replies[replies.length - 1]!;
          if (final.status === '0000') {
            expect(final.keys.get('AuthMethod') ?? 'CHAP').toBe('CHAP');
            final = await tryToBypass(login, replies);
          }
          expect(final.status).toBe(expected.final);
          neverPastSecurity(replies);
          await login.waitClosed();
        });
      }
    }
  }
}

describe('identification from the first complete text: CHAP target', () => {
  runChapProtectedMatrix('Normal', CHAP_TARGET);

  it('a first request continued with the C bit still leads to a normal CHAP login', async () => {
    const login = await RawLogin.connect(t.port);
    const text = encodeTextPairs([
      ['InitiatorName', freshInitiatorName('split-chap')],
      ['SessionType', 'Normal'],
      ['TargetName', CHAP_TARGET],
      ['AuthMethod', 'CHAP'],
    ]);
    expect((await login.request({ transit: false, cont: true, csg: 0, nsg: 1 }, text.subarray(0, 30))).status).toBe('0000');
    const chosen = await login.request({ transit: false, csg: 0, nsg: 1 }, text.subarray(30));
    expect(chosen.keys.get('AuthMethod')).toBe('CHAP');
    const challenge = await login.request({ transit: false, csg: 0, nsg: 1 }, [['CHAP_A', '5']]);
    expect(challenge.keys.get('CHAP_C')).toMatch(/^0x/);
    login.close();
  });
});

describe('identification from the first complete text: discovery with discovery CHAP', () => {
  runChapProtectedMatrix('Discovery', undefined);

  it('the right discovery secret logs in', async () => {
    const login = await RawLogin.connect(t.port);
    const a = await chapAttempt(login, { initiatorName: freshInitiatorName('disc'), sessionType: 'Discovery', user: DUSER, secret: DSECRET });
    expect(a.reply.status).toBe('0000');
    expect(a.reply.transit).toBe(true);
    const done = await finishLogin(login);
    expect(done.status).toBe('0000');
    expect(done.tsih).toBeGreaterThan(0);
    login.close();
  });
});

describe('identification from the first complete text: unknown target', () => {
  for (const csg of [0, 1] as const) {
    for (const combo of combos) {
      const { cont, transit } = combo;
      const expected = cont && transit ? '0200' : '0203';
      it(`CSG=${csg} ${comboName(combo)} AuthMethod=None ends ${expected}`, async () => {
        const login = await RawLogin.connect(t.port);
        const { replies } = await sendFirst(login, { sessionType: 'Normal', targetName: UNKNOWN, offer: 'None', csg, ...combo });
        const final = replies[replies.length - 1]!;
        expect(final.status).toBe(expected);
        // A continued first PDU was acknowledged with "go on" and nothing else.
        if (cont && !transit) expect(replies.map((r) => r.status)).toEqual(['0000', '0203']);
        neverPastSecurity(replies);
        await login.waitClosed();
      });
    }
  }

  it('a known target without authentication still logs in with the first request continued', async () => {
    const login = await RawLogin.connect(t.port);
    const { completing } = await sendFirst(login, {
      sessionType: 'Normal',
      targetName: TEST_IQN,
      offer: 'None',
      cont: true,
      transit: false,
      csg: 0,
    });
    expect(completing?.status).toBe('0000');
    expect(completing?.keys.get('AuthMethod')).toBe('None');
    const op = await login.request({ transit: true, csg: 0, nsg: 1 }, []);
    expect(op.transit).toBe(true);
    const done = await finishLogin(login);
    expect(done.status).toBe('0000');
    expect(done.tsih).toBeGreaterThan(0);
    login.close();
  });
});
