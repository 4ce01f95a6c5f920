/**
 * Issue 9 item 17 over real sockets: failed CHAP answers are answered later and later per
 * initiator name and per source address, then locked out (the right secret refused the same
 * way), while another initiator from another address logs in untouched; a wrong user and a
 * wrong secret get the same answer; every failure is counted by reason in the metrics.
 *
 * Small delays (100 ms doubling to 800 ms) keep the test short; the lower bounds on answer
 * times below check the delay itself, which is what is under test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawLogin, chapAttempt, finishLogin, freshInitiatorName, type ChapAttemptResult } from '../helpers/login-raw.js';
import { scrape } from '../helpers/metrics.js';
import { startTestTarget, type TestTarget } from '../helpers/target.js';

const TARGET = 'iqn.2026-11.io.scatter:throttled';
const USER = 'throttle-user';
const SECRET = 'throttle-secret-42';
const BASE = 100;
const CAP = 800;
const LOCK_AFTER = 4;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw) => {
    (raw.targets as Record<string, unknown>[]).push({
      iqn: TARGET,
      auth: { method: 'chap', user: USER, secret: SECRET },
      luns: [{ lun: 0, backstore: { type: 'null', size: '8MiB' } }],
    });
    (raw.iscsi as Record<string, unknown>).authThrottle = {
      failureDelayMs: BASE,
      maxFailureDelayMs: CAP,
      lockoutAfterFailures: LOCK_AFTER,
      lockoutMs: 120_000,
    };
  });
});
afterAll(() => t.stop());

async function attempt(from: string, initiatorName: string, secret: string, user = USER): Promise<ChapAttemptResult & { login: RawLogin }> {
  const login = await RawLogin.connect(t.port, from);
  const result = await chapAttempt(login, { initiatorName, targetName: TARGET, user, secret });
  return { ...result, login };
}

async function failed(from: string, initiatorName: string, secret: string, user = USER): Promise<number> {
  const a = await attempt(from, initiatorName, secret, user);
  expect(a.reply.status).toBe('0201');
  expect(a.reply.data.length).toBe(0);
  await a.login.waitClosed();
  return a.answerMs;
}

async function loginFailures(): Promise<Map<string, number>> {
  const port = t.scatter.adminPort;
  if (port === undefined) throw new Error('admin listener not started');
  const { exposition } = await scrape(port);
  return new Map(exposition.select('scatter_iscsi_login_failures_total').map((s) => [s.labels.reason!, s.value]));
}

describe('CHAP brute-force throttle', () => {
  it('a burst of wrong secrets gets slower answers, then a lockout that refuses the right secret too', async () => {
    const before = await loginFailures();
    const name = freshInitiatorName('burst');
    const times: number[] = [];
    for (let i = 0; i < 6; i++) times.push(await failed('127.0.0.1', name, `wrong-secret-${i}-xxxxx`));
    const expected = [BASE, 2 * BASE, 4 * BASE, CAP, CAP, CAP];
    times.forEach((ms, i) => expect(ms, `attempt ${i + 1}`).toBeGreaterThanOrEqual(expected[i]! - 5));
    // Locked out now: the right secret gets exactly the same refusal, after the capped delay.
    expect(await failed('127.0.0.1', name, SECRET)).toBeGreaterThanOrEqual(CAP - 5);

    const after = await loginFailures();
    const delta = (reason: string) => (after.get(reason) ?? 0) - (before.get(reason) ?? 0);
    expect(delta('chap_wrong_secret')).toBe(LOCK_AFTER);
    expect(delta('chap_locked_out')).toBe(3);
    // Every reason is exposed, so the series exist before the first failure.
    for (const reason of ['target_not_found', 'initiator_error', 'auth_required', 'chap_unknown_user', 'timeout']) {
      expect(after.has(reason), reason).toBe(true);
    }
  });

  it('while one initiator is locked out, another initiator from another address logs in before its answer comes', async () => {
    const victim = freshInitiatorName('locked');
    for (let i = 0; i < LOCK_AFTER; i++) await failed('127.0.0.2', victim, `wrong-secret-${i}-yyyyy`);
    const held = attempt('127.0.0.2', victim, SECRET);

    const other = await attempt('127.0.0.3', freshInitiatorName('bystander'), SECRET);
    expect(other.reply.status).toBe('0000');
    const done = await finishLogin(other.login);
    expect(done.status).toBe('0000');
    expect(done.tsih).toBeGreaterThan(0);

    const locked = await held;
    expect(locked.reply.status).toBe('0201');
    // The bystander was through before the locked-out initiator even got its (held) refusal.
    expect(done.at).toBeLessThan(locked.reply.at);
    other.login.close();
    await locked.login.waitClosed();
  });

  it('guessing many initiator names from one address locks that address, not the names elsewhere', async () => {
    for (let i = 0; i < LOCK_AFTER; i++) await failed('127.0.0.4', freshInitiatorName(`spray-${i}`), `wrong-secret-${i}-zzzzz`);
    const name = freshInitiatorName('behind-locked-address');
    expect(await failed('127.0.0.4', name, SECRET)).toBeGreaterThanOrEqual(CAP - 5);
    const elsewhere = await attempt('127.0.0.5', name, SECRET);
    expect(elsewhere.reply.status).toBe('0000');
    elsewhere.login.close();
  });

  it('guessing one initiator name from many addresses locks that name everywhere', async () => {
    const name = freshInitiatorName('sprayed-name');
    for (let i = 0; i < LOCK_AFTER; i++) await failed(`127.0.1.${i + 1}`, name, `wrong-secret-${i}-wwwww`);
    expect(await failed('127.0.1.99', name, SECRET)).toBeGreaterThanOrEqual(CAP - 5);
    const someoneElse = await attempt('127.0.1.100', freshInitiatorName('fresh'), SECRET);
    expect(someoneElse.reply.status).toBe('0000');
    someoneElse.login.close();
  });

  it('hanging up on a held failure and answering again at once gains nothing: that answer is not even checked', async () => {
    const before = await loginFailures();
    const name = freshInitiatorName('impatient');
    // Two waited-for failures first, so that the third is held 4 x BASE: ample time to try again within it.
    for (let i = 0; i < 2; i++) await failed('127.0.5.1', name, `wrong-secret-${i}-uuuuu`);
    const guess = await RawLogin.connect(t.port, '127.0.5.1');
    const offer = await guess.request({ transit: false, csg: 0, nsg: 1 }, [
      ['InitiatorName', name],
      ['SessionType', 'Normal'],
      ['TargetName', TARGET],
      ['AuthMethod', 'CHAP'],
    ]);
    expect(offer.keys.get('AuthMethod')).toBe('CHAP');
    expect((await guess.request({ transit: false, csg: 0, nsg: 1 }, [['CHAP_A', '7']])).keys.get('CHAP_C')).toMatch(/^0x/);
    guess.post({ transit: true, csg: 0, nsg: 1 }, [
      ['CHAP_N', USER],
      ['CHAP_R', `0x${'00'.repeat(32)}`],
    ]);
    guess.socket.end(); // no waiting for the (held) failure
    await guess.waitClosed();

    // A success is never held, so only refusing to look at the next answer stops this.
    const right = await attempt('127.0.5.1', name, SECRET);
    expect(right.reply.status).toBe('0201');
    await right.login.waitClosed();
    const after = await loginFailures();
    expect((after.get('chap_wrong_secret') ?? 0) - (before.get('chap_wrong_secret') ?? 0)).toBe(3);
    expect((after.get('chap_too_soon') ?? 0) - (before.get('chap_too_soon') ?? 0)).toBe(1);
  });

  it('a wrong user and a wrong secret get byte-identical answers after the same delay', async () => {
    const before = await loginFailures();
    const wrongUser = await attempt('127.0.2.1', freshInitiatorName('wrong-user'), SECRET, 'not-a-user-we-know');
    const wrongSecret = await attempt('127.0.2.2', freshInitiatorName('wrong-secret'), 'not-the-secret-0000');
    for (const a of [wrongUser, wrongSecret]) {
      expect(a.reply.status).toBe('0201');
      expect(a.answerMs).toBeGreaterThanOrEqual(BASE - 5);
      await a.login.waitClosed();
    }
    // Same header (status, flags, StatSN, TSIH...) and the same empty data segment.
    expect(wrongUser.reply.bhs.equals(wrongSecret.reply.bhs)).toBe(true);
    expect(wrongUser.reply.data.equals(wrongSecret.reply.data)).toBe(true);
    const after = await loginFailures();
    expect((after.get('chap_unknown_user') ?? 0) - (before.get('chap_unknown_user') ?? 0)).toBe(1);
    expect((after.get('chap_wrong_secret') ?? 0) - (before.get('chap_wrong_secret') ?? 0)).toBe(1);
  });

  it('a success clears the count: the next failure is answered after the base delay again, not the grown one', async () => {
    const name = freshInitiatorName('recovers');
    for (let i = 0; i < LOCK_AFTER - 1; i++) await failed('127.0.3.1', name, `wrong-secret-${i}-vvvvv`);
    const ok = await attempt('127.0.3.1', name, SECRET);
    expect(ok.reply.status).toBe('0000');
    ok.login.close();
    // Had the count stayed, this would be the lockout failure; it is an ordinary first one instead.
    const before = await loginFailures();
    await failed('127.0.3.1', name, 'wrong-secret-after-success');
    const after = await loginFailures();
    expect((after.get('chap_wrong_secret') ?? 0) - (before.get('chap_wrong_secret') ?? 0)).toBe(1);
    expect((after.get('chap_locked_out') ?? 0) - (before.get('chap_locked_out') ?? 0)).toBe(0);
    const again = await attempt('127.0.3.1', name, SECRET);
    expect(again.reply.status).toBe('0000');
    again.login.close();
  });
});

describe('login failures other than CHAP are counted by reason too', () => {
  it('target not found, initiator error, auth required', async () => {
    const before = await loginFailures();
    const unknown = await RawLogin.connect(t.port);
    expect(
      (
        await unknown.request({ transit: true, csg: 0, nsg: 1 }, [
          ['InitiatorName', freshInitiatorName('nf')],
          ['TargetName', 'iqn.2026-11.io.scatter:nope'],
        ])
      ).status,
    ).toBe('0203');
    const bad = await RawLogin.connect(t.port);
    expect((await bad.request({ transit: true, cont: true, csg: 0, nsg: 1 }, [])).status).toBe('0200');
    const noAuth = await RawLogin.connect(t.port);
    expect(
      (
        await noAuth.request({ transit: true, csg: 0, nsg: 1 }, [
          ['InitiatorName', freshInitiatorName('none')],
          ['TargetName', TARGET],
          ['AuthMethod', 'None'],
        ])
      ).status,
    ).toBe('0201');
    const after = await loginFailures();
    for (const reason of ['target_not_found', 'initiator_error', 'auth_required']) {
      expect((after.get(reason) ?? 0) - (before.get(reason) ?? 0), reason).toBe(1);
    }
  });
});
