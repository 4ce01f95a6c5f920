import { describe, expect, it } from 'vitest';
import { LoginLog, type LoginAttempt } from '../../../src/iscsi/login-log.js';

const attempt = (name: string | undefined, at: number, reason = 'not_in_acl'): LoginAttempt => ({
  at,
  initiatorName: name,
  sourceAddress: '192.0.2.1',
  sourcePort: 40000,
  target: 'iqn.t',
  sessionType: 'Normal',
  outcome: 'failure',
  reason,
  detail: 'x'.repeat(5000),
});

describe('LoginLog', () => {
  it('keeps the last N per initiator and at most M initiators, newest first, and passes any reason through', () => {
    const log = new LoginLog({ perInitiator: 2, maxInitiators: 3 });
    for (let n = 0; n < 5; n++) log.record(attempt('iqn.a', n));
    expect(log.all().map((a) => a.at)).toEqual([4, 3]);
    for (let n = 0; n < 1000; n++) log.record(attempt(`iqn.flood-${n}`, 100 + n));
    expect(log.initiatorCount).toBe(3);
    expect(log.all().every((a) => a.reason === 'not_in_acl' && a.detail!.length < 400)).toBe(true);
    log.record(attempt(undefined, 5000, 'non_login_pdu'));
    expect(log.all()[0]).toMatchObject({ initiatorName: undefined, reason: 'non_login_pdu' });
    log.record(attempt('I'.repeat(10_000), 6000));
    expect(log.all()[0]!.initiatorName!.length).toBeLessThan(300);
  });
});
