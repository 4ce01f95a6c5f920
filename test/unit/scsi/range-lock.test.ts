import { describe, expect, it } from 'vitest';
import { RangeLock, type Unlock } from '../../../src/scsi/range-lock.js';

const isUnlock = (got: Unlock | Promise<Unlock>): got is Unlock => typeof got === 'function';

describe('RangeLock', () => {
  it('lets shared requests overlap, makes an exclusive one wait for them, and later shared ones wait for it', async () => {
    const lock = new RangeLock();
    const a = lock.lock(0, 8, false);
    const b = lock.lock(4, 8, false);
    expect(isUnlock(a) && isUnlock(b)).toBe(true);

    const order: string[] = [];
    const x = lock.lock(6, 1, true);
    expect(isUnlock(x)).toBe(false);
    const xDone = Promise.resolve(x).then((unlock) => {
      order.push('exclusive');
      return unlock;
    });
    // Shared, overlapping the waiting exclusive: it waits for it (FIFO, no starvation).
    const y = lock.lock(0, 16, false);
    expect(isUnlock(y)).toBe(false);
    const yDone = Promise.resolve(y).then((unlock) => {
      order.push('shared after');
      return unlock;
    });
    // Shared, not overlapping the exclusive: at once.
    const z = lock.lock(100, 1, false);
    expect(isUnlock(z)).toBe(true);

    (a as Unlock)();
    (b as Unlock)();
    (await xDone)();
    (await yDone)();
    (z as Unlock)();
    expect(order).toEqual(['exclusive', 'shared after']);
    expect(lock.size).toBe(0);

    // No exclusive holder any more: shared requests are granted at once again.
    const again = lock.lock(6, 1, false);
    expect(isUnlock(again)).toBe(true);
    (again as Unlock)();
  });
});
