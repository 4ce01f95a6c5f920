/**
 * The login handler with the CHAP throttle, on fake timers and a fake clock: a failed CHAP
 * answer is held for the throttle's delay (other logins go on meanwhile), a lockout refuses
 * the right secret with the same answer, wrong user and wrong secret are indistinguishable,
 * and every failure is logged once, bounded, and counted.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SgVector } from '../../../src/block/sg.js';
import { AuthThrottle, type AuthThrottleConfig } from '../../../src/iscsi/auth-throttle.js';
import { ChallengeCache } from '../../../src/iscsi/chap.js';
import { LoginFailureCounts } from '../../../src/iscsi/login-failure.js';
import { LoginHandler, type LoginContext } from '../../../src/iscsi/login.js';
import { defaultTargetNegotiationConfig } from '../../../src/iscsi/negotiation.js';
import type { InPdu } from '../../../src/iscsi/pdu.js';
import { TargetRegistry } from '../../../src/iscsi/target.js';
import type { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { encodeTextPairs, parseTextData } from '../../../src/iscsi/text.js';
import { loginRequest } from '../../helpers/initiator-pdus.js';
import { FakeConnection, type SentPdu } from './fake-connection.js';

const TARGET = 'iqn.2026-11.io.scatter:unit-chap';
const USER = 'unit-user';
const SECRET = 'unit-secret-123456';
const THROTTLE: AuthThrottleConfig = { failureDelayMs: 1000, maxFailureDelayMs: 4000, lockoutAfterFailures: 3, lockoutMs: 60_000 };

type Sent = SentPdu;

let logLines: Record<string, unknown>[];
let failures: LoginFailureCounts;
let throttle: AuthThrottle;
let ctx: LoginContext;

beforeEach(() => {
  vi.useFakeTimers();
  logLines = [];
  failures = new LoginFailureCounts();
  throttle = new AuthThrottle(THROTTLE, { now: () => Date.now() });
  const targets = new TargetRegistry();
  targets.add({
    iqn: TARGET,
    portalGroupTag: 1,
    portals: [],
    chap: { initiator: { user: USER, secret: SECRET } },
    scsi: {} as ScsiTargetCore,
  });
  ctx = {
    targets,
    negotiation: defaultTargetNegotiationConfig,
    challengeCache: new ChallengeCache(),
    loginTimeoutMs: 15_000,
    authThrottle: throttle,
    failures,
    timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t) },
    attach: () => ({ tsih: 9, expCmdSN: 1, maxCmdSN: 1, handler: { handlePdu() {}, onConnectionClosed() {} } }),
  };
});
afterEach(() => {
  vi.useRealTimers();
});

function logger() {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

function pdu(f: { transit: boolean; csg: number; nsg: number; cont?: boolean }, pairs: [string, string][]): InPdu {
  const data = encodeTextPairs(pairs);
  const bhs = loginRequest({ ...f, isid: Buffer.from([0x80, 0, 0, 1, 0, 1]), tsih: 0, itt: 1, cid: 0, cmdSN: 1, expStatSN: 0, dataLength: data.length });
  return { bhs, ahs: Buffer.alloc(0), data: new SgVector([data]) };
}

function start(address: string): { conn: FakeConnection; handler: LoginHandler } {
  const conn = new FakeConnection(address);
  return { conn, handler: new LoginHandler(conn, ctx, logger()) };
}

function status(s: Sent): string {
  return `${s.bhs[36]!.toString(16).padStart(2, '0')}${s.bhs[37]!.toString(16).padStart(2, '0')}`;
}

/** Security stage up to the CHAP answer; returns how many PDUs were sent before the answer. */
function answerChap(h: { conn: FakeConnection; handler: LoginHandler }, initiator: string, user: string, secret: string): number {
  h.handler.handlePdu(
    pdu({ transit: false, csg: 0, nsg: 1 }, [
      ['InitiatorName', initiator],
      ['SessionType', 'Normal'],
      ['TargetName', TARGET],
      ['AuthMethod', 'CHAP'],
    ]),
  );
  h.handler.handlePdu(pdu({ transit: false, csg: 0, nsg: 1 }, [['CHAP_A', '7']]));
  const challenge = new Map(parseTextData(h.conn.sent[h.conn.sent.length - 1]!.data).pairs);
  const c = Buffer.from(challenge.get('CHAP_C')!.slice(2), 'hex');
  const r = createHash('sha256').update(Buffer.of(Number(challenge.get('CHAP_I')))).update(secret).update(c).digest();
  const before = h.conn.sent.length;
  h.handler.handlePdu(
    pdu({ transit: true, csg: 0, nsg: 1 }, [
      ['CHAP_N', user],
      ['CHAP_R', `0x${r.toString('hex')}`],
    ]),
  );
  return before;
}

/** Advance fake time until the held answer is out; returns how long that took. */
function timeToAnswer(conn: FakeConnection, before: number): number {
  let waited = 0;
  while (conn.sent.length === before) {
    vi.advanceTimersByTime(100);
    waited += 100;
    if (waited > 120_000) throw new Error('no answer');
  }
  return waited;
}

describe('LoginHandler with the CHAP throttle', () => {
  it('holds the failure answer for the delay and closes after it; another login proceeds meanwhile', () => {
    const a = start('10.0.0.1');
    const before = answerChap(a, 'iqn.2026-11.x:attacker', USER, 'wrong-secret-000000');
    expect(a.conn.sent.length).toBe(before);
    expect(a.conn.closedWith).toBeUndefined();

    // While A waits, B (other name, other address) logs in all the way.
    const b = start('10.0.0.2');
    const bBefore = answerChap(b, 'iqn.2026-11.x:honest', USER, SECRET);
    expect(b.conn.sent.length).toBe(bBefore + 1);
    expect(status(b.conn.sent[bBefore]!)).toBe('0000');
    b.handler.handlePdu(pdu({ transit: true, csg: 1, nsg: 3 }, [['HeaderDigest', 'None']]));
    expect(b.conn.handler).toBeDefined();
    expect(a.conn.sent.length).toBe(before);

    vi.advanceTimersByTime(999);
    expect(a.conn.sent.length).toBe(before);
    vi.advanceTimersByTime(1);
    expect(a.conn.sent.length).toBe(before + 1);
    expect(status(a.conn.sent[before]!)).toBe('0201');
    expect(a.conn.closedWith).toMatch(/login failed/);
    expect(failures.get('chap_wrong_secret')).toBe(1);
  });

  it('grows the delay with consecutive failures, locks out, refuses the right secret the same way, and lets go after the lockout', () => {
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const h = start('10.0.0.1');
      const before = answerChap(h, 'iqn.2026-11.x:victim', USER, `wrong-${i}-secret-xx`);
      delays.push(timeToAnswer(h.conn, before));
      expect(status(h.conn.sent[before]!)).toBe('0201');
    }
    expect(delays).toEqual([1000, 2000, 4000]);

    const right = start('10.0.0.1');
    const before = answerChap(right, 'iqn.2026-11.x:victim', USER, SECRET);
    expect(timeToAnswer(right.conn, before)).toBe(4000);
    expect(status(right.conn.sent[before]!)).toBe('0201');
    expect(right.conn.sent[before]!.data.length).toBe(0);
    expect(failures.get('chap_locked_out')).toBe(1);
    const locked = logLines.filter((l) => l.reason === 'chap_locked_out');
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({ level: 40, initiator: 'iqn.2026-11.x:victim', remote: '10.0.0.1:40000', lockedOut: true });

    vi.setSystemTime(Date.now() + THROTTLE.lockoutMs);
    const later = start('10.0.0.1');
    const laterBefore = answerChap(later, 'iqn.2026-11.x:victim', USER, SECRET);
    expect(later.conn.sent.length).toBe(laterBefore + 1);
    expect(status(later.conn.sent[laterBefore]!)).toBe('0000');
    // The success cleared the count: the next failure waits the base delay again.
    const again = start('10.0.0.1');
    expect(timeToAnswer(again.conn, answerChap(again, 'iqn.2026-11.x:victim', USER, 'wrong-again-secret'))).toBe(1000);
  });

  it('refuses an answer sent while an earlier failure is still held, even the right one (a client that does not wait)', () => {
    const first = start('10.0.0.7');
    answerChap(first, 'iqn.2026-11.x:impatient', USER, 'wrong-secret-222222');
    first.handler.onConnectionClosed(); // hung up instead of waiting
    vi.advanceTimersByTime(500);
    const second = start('10.0.0.7');
    const before = answerChap(second, 'iqn.2026-11.x:impatient', USER, SECRET);
    // Refused like any failure: held, then 0201.
    expect(second.conn.sent.length).toBe(before);
    expect(timeToAnswer(second.conn, before)).toBe(2000);
    expect(status(second.conn.sent[before]!)).toBe('0201');
    expect(failures.get('chap_too_soon')).toBe(1);
    // Waiting for the answer is all it takes: now the right secret is checked and accepted.
    const third = start('10.0.0.7');
    const thirdBefore = answerChap(third, 'iqn.2026-11.x:impatient', USER, SECRET);
    expect(status(third.conn.sent[thirdBefore]!)).toBe('0000');
  });

  it('answers a wrong user and a wrong secret identically and after the same delay', () => {
    const answers: { delay: number; sent: Sent }[] = [];
    for (const [name, user, secret, address] of [
      ['iqn.2026-11.x:wrong-user', 'nobody-we-know', SECRET, '10.0.1.1'],
      ['iqn.2026-11.x:wrong-secret', USER, 'not-the-secret-0000', '10.0.1.2'],
    ] as const) {
      const h = start(address);
      const before = answerChap(h, name, user, secret);
      answers.push({ delay: timeToAnswer(h.conn, before), sent: h.conn.sent[before]! });
    }
    expect(answers[0]!.delay).toBe(answers[1]!.delay);
    expect(answers[0]!.sent.bhs.equals(answers[1]!.sent.bhs)).toBe(true);
    expect(answers[0]!.sent.data.equals(answers[1]!.sent.data)).toBe(true);
    expect(failures.get('chap_unknown_user')).toBe(1);
    expect(failures.get('chap_wrong_secret')).toBe(1);
  });

  it('drops a held answer when the initiator hangs up first', () => {
    const h = start('10.0.0.1');
    const before = answerChap(h, 'iqn.2026-11.x:quitter', USER, 'wrong-secret-111111');
    h.handler.onConnectionClosed();
    vi.advanceTimersByTime(60_000);
    expect(h.conn.sent.length).toBe(before);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('logs every failure once at warn, with peer text bounded', () => {
    const long = 'x'.repeat(5000);
    const a = start('10.0.0.3');
    a.handler.handlePdu(
      pdu({ transit: true, csg: 0, nsg: 1 }, [
        ['InitiatorName', `iqn.2026-11.io.example:${long}`],
        ['TargetName', TARGET],
      ]),
    );
    const b = start('10.0.0.4');
    b.handler.handlePdu(
      pdu({ transit: true, csg: 0, nsg: 1 }, [
        ['InitiatorName', 'iqn.2026-11.io.example:b'],
        ['TargetName', `iqn.2026-11.io.example:${long}`],
      ]),
    );
    expect(a.conn.sent.map(status)).toEqual(['0200']);
    expect(b.conn.sent.map(status)).toEqual(['0203']);
    const failed = logLines.filter((l) => l.msg === 'login failed');
    expect(failed.map((l) => l.reason)).toEqual(['invalid_initiator_name', 'target_not_found']);
    for (const line of failed) {
      expect(line.level).toBe(40);
      expect(JSON.stringify(line).length).toBeLessThan(1200);
    }
    expect(failed[0]!.initiator).toMatch(/^iqn\.2026-11\.io\.example:x+… \(5023 chars\)$/);
    expect(failed[0]!.remote).toBe('10.0.0.3:40000');
    expect(failures.get('invalid_initiator_name')).toBe(1);
    expect(failures.get('target_not_found')).toBe(1);
  });

  it('counts and logs a login that does not complete in time', () => {
    const h = start('10.0.0.5');
    h.handler.handlePdu(
      pdu({ transit: false, csg: 0, nsg: 1 }, [
        ['InitiatorName', 'iqn.2026-11.io.example:slow'],
        ['TargetName', TARGET],
        ['AuthMethod', 'CHAP'],
      ]),
    );
    vi.advanceTimersByTime(15_000);
    expect(h.conn.closedWith).toBe('login timeout');
    expect(failures.get('timeout')).toBe(1);
    expect(logLines.filter((l) => l.msg === 'login failed')).toEqual([
      expect.objectContaining({ reason: 'timeout', initiator: 'iqn.2026-11.io.example:slow' }),
    ]);
  });
});
