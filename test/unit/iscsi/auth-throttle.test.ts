import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { AuthThrottle, DEFAULT_AUTH_THROTTLE, addressKey, type AuthThrottleConfig } from '../../../src/iscsi/auth-throttle.js';

const CFG: AuthThrottleConfig = { failureDelayMs: 1000, maxFailureDelayMs: 30_000, lockoutAfterFailures: 10, lockoutMs: 300_000 };

function throttle(cfg: Partial<AuthThrottleConfig> = {}, maxEntries?: number) {
  const clock = { now: 0 };
  const t = new AuthThrottle({ ...CFG, ...cfg }, { now: () => clock.now, maxEntries });
  return { t, clock };
}

describe('AuthThrottle', () => {
  it('doubles the answer delay with each consecutive failure, up to the cap', () => {
    const { t } = throttle();
    const delays = Array.from({ length: 8 }, () => t.recordFailure('iqn.2026-11.x:a', '10.0.0.1').delayMs);
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('locks a name out after N consecutive failures, the correct secret included, until the lockout ends', () => {
    const { t, clock } = throttle();
    for (let i = 1; i <= 9; i++) {
      expect(t.recordFailure('iqn.2026-11.x:a', '10.0.0.1').lockedOut).toBe(false);
      clock.now += 1000;
    }
    expect(t.isLockedOut('iqn.2026-11.x:a', '10.0.0.1')).toBe(false);
    const tenth = t.recordFailure('iqn.2026-11.x:a', '10.0.0.1');
    expect(tenth).toMatchObject({ failures: 10, lockedOut: true });
    // The same name from another address, and another name from the same address: both locked.
    expect(t.isLockedOut('iqn.2026-11.x:a', '192.0.2.9')).toBe(true);
    expect(t.isLockedOut('iqn.2026-11.x:other', '10.0.0.1')).toBe(true);
    // Someone else entirely is not.
    expect(t.isLockedOut('iqn.2026-11.x:b', '10.0.0.2')).toBe(false);
    clock.now += CFG.lockoutMs - 1;
    expect(t.isLockedOut('iqn.2026-11.x:a', '192.0.2.9')).toBe(true);
    clock.now += 1;
    expect(t.isLockedOut('iqn.2026-11.x:a', '192.0.2.9')).toBe(false);
  });

  it('attempts during a lockout do not extend it, but one failure after it starts the next at once', () => {
    const { t, clock } = throttle({ lockoutAfterFailures: 3, lockoutMs: 10_000 });
    for (let i = 0; i < 3; i++) t.recordFailure('iqn.2026-11.x:a', '10.0.0.1');
    clock.now = 9000;
    expect(t.recordFailure('iqn.2026-11.x:a', '10.0.0.1').lockedOut).toBe(true);
    clock.now = 10_000;
    expect(t.isLockedOut('iqn.2026-11.x:a', '10.0.0.1')).toBe(false);
    const again = t.recordFailure('iqn.2026-11.x:a', '10.0.0.1');
    expect(again.lockedOut).toBe(true);
    expect(again.failures).toBe(5);
    clock.now = 19_999;
    expect(t.isLockedOut('iqn.2026-11.x:a', '10.0.0.1')).toBe(true);
  });

  it('does not check an answer before the last failure\'s delay has run out (hanging up on it gains nothing)', () => {
    const { t, clock } = throttle();
    t.recordFailure('iqn.2026-11.x:a', '10.0.0.1');
    expect(t.gate('iqn.2026-11.x:a', '10.0.0.1')).toBe('too-soon');
    expect(t.gate('iqn.2026-11.x:a', '10.9.9.9')).toBe('too-soon');
    expect(t.gate('iqn.2026-11.x:other', '10.0.0.1')).toBe('too-soon');
    expect(t.gate('iqn.2026-11.x:other', '10.9.9.9')).toBe('open');
    // The held answer goes out after 1000 ms; up to 50 ms of timer slack is allowed for.
    clock.now = 949;
    expect(t.gate('iqn.2026-11.x:a', '10.0.0.1')).toBe('too-soon');
    clock.now = 950;
    expect(t.gate('iqn.2026-11.x:a', '10.0.0.1')).toBe('open');
    t.recordFailure('iqn.2026-11.x:a', '10.0.0.1');
    clock.now = 950 + 1949;
    expect(t.gate('iqn.2026-11.x:a', '10.0.0.1')).toBe('too-soon');
    clock.now = 950 + 1950;
    expect(t.gate('iqn.2026-11.x:a', '10.0.0.1')).toBe('open');
  });

  it('a success clears the counts of the name and the address', () => {
    const { t } = throttle();
    for (let i = 0; i < 5; i++) t.recordFailure('iqn.2026-11.x:a', '10.0.0.1');
    t.recordSuccess('iqn.2026-11.x:a', '10.0.0.1');
    expect(t.recordFailure('iqn.2026-11.x:a', '10.0.0.1')).toMatchObject({ failures: 1, delayMs: 1000 });
  });

  it('counts the name and the address separately and charges the larger count', () => {
    const { t } = throttle();
    // One name tried from many addresses: the name's count grows.
    for (let i = 1; i <= 4; i++) t.recordFailure('iqn.2026-11.x:target-of-spray', `10.0.1.${i}`);
    expect(t.recordFailure('iqn.2026-11.x:target-of-spray', '10.0.1.99')).toMatchObject({ failures: 5, delayMs: 16_000 });
    // Many names from one address: the address's count grows.
    for (let i = 1; i <= 4; i++) t.recordFailure(`iqn.2026-11.x:guess-${i}`, '10.0.2.1');
    expect(t.recordFailure('iqn.2026-11.x:guess-99', '10.0.2.1')).toMatchObject({ failures: 5 });
  });

  it('names compare case-folded (RFC 3722)', () => {
    const { t } = throttle();
    t.recordFailure('iqn.2026-11.X:Host', '10.0.0.1');
    expect(t.recordFailure('iqn.2026-11.x:host', '10.0.0.2').failures).toBe(2);
  });

  it('forgets a key after a quiet period and keeps at most maxEntries keys per table', () => {
    const { t, clock } = throttle({ lockoutMs: 60_000, maxFailureDelayMs: 1000 }, 100);
    t.recordFailure('iqn.2026-11.x:a', '10.0.0.1');
    clock.now += 60_000;
    expect(t.recordFailure('iqn.2026-11.x:a', '10.0.0.1').failures).toBe(1);
    for (let i = 0; i < 10_000; i++) t.recordFailure(`iqn.2026-11.x:spray-${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(t.tracked).toEqual({ initiators: 100, addresses: 100 });
  });

  it('with lockoutAfterFailures 0 it never locks, and with failureDelayMs 0 it never delays', () => {
    const { t } = throttle({ lockoutAfterFailures: 0, failureDelayMs: 0 });
    for (let i = 0; i < 50; i++) expect(t.recordFailure('iqn.2026-11.x:a', '10.0.0.1')).toMatchObject({ delayMs: 0, lockedOut: false });
  });

  it('refuses a config that is not whole non-negative numbers', () => {
    expect(() => new AuthThrottle({ ...CFG, failureDelayMs: -1 })).toThrow(RangeError);
    expect(() => new AuthThrottle({ ...CFG, lockoutMs: 1.5 })).toThrow(RangeError);
  });
});

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, and charges IPv6 by its /64', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });
});

describe('config iscsi.authThrottle', () => {
  it('defaults to the documented production values', () => {
    expect(parseConfig('', 't').iscsi.authThrottle).toEqual(DEFAULT_AUTH_THROTTLE);
  });

  it('takes every key and refuses a cap below the base delay', () => {
    const yaml = 'iscsi:\n  authThrottle: { failureDelayMs: 50, maxFailureDelayMs: 400, lockoutAfterFailures: 3, lockoutMs: 2000 }\n';
    expect(parseConfig(yaml, 't').iscsi.authThrottle).toEqual({ failureDelayMs: 50, maxFailureDelayMs: 400, lockoutAfterFailures: 3, lockoutMs: 2000 });
    expect(() => parseConfig('iscsi:\n  authThrottle: { failureDelayMs: 500, maxFailureDelayMs: 400 }\n', 't')).toThrow(
      /iscsi\.authThrottle\.maxFailureDelayMs: must not be less than failureDelayMs/,
    );
    expect(() => parseConfig('iscsi:\n  authThrottle: { lockoutAfter: 3 }\n', 't')).toThrow(/authThrottle/);
  });
});
