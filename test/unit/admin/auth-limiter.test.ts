import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter } from '../../../src/admin/auth-limiter.js';

describe('AuthFailureLimiter', () => {
  it('limits each address on its own failures, frees it when its window ends, and keeps at most maxAddresses', () => {
    let now = 0;
    const l = new AuthFailureLimiter({ maxFailures: 3, windowMs: 10_000, maxAddresses: 2, now: () => now });
    for (let n = 0; n < 3; n++) l.recordFailure('a');
    l.recordFailure('b');
    expect(l.retryAfter('a')).toBe(10);
    expect(l.retryAfter('b')).toBe(0); // a's failures never count against b
    now = 9_001;
    expect(l.retryAfter('a')).toBe(1);
    now = 10_000;
    expect(l.retryAfter('a')).toBe(0);
    l.recordFailure('c');
    l.recordFailure('d'); // a third address: the least recently failed (b) is forgotten
    expect(l.size).toBe(2);
  });
});
