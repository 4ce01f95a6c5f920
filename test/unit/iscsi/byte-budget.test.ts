import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteBudget } from '../../../src/iscsi/byte-budget.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('ByteBudget', () => {
  it('grants what fits at once and queues the rest in arrival order', async () => {
    const b = new ByteBudget(100);
    const granted: string[] = [];
    const a = b.reserve(60, () => granted.push('a'));
    expect(a.granted).toBe(true);
    const c = b.reserve(50, () => granted.push('c'));
    const d = b.reserve(10, () => granted.push('d')); // fits, but may not jump the queue
    expect(c.granted).toBe(false);
    expect(d.granted).toBe(false);
    expect(b.inUse).toBe(60);
    expect(b.waiting).toBe(2);
    a.release();
    expect(c.granted && d.granted).toBe(true);
    await tick();
    expect(granted).toEqual(['c', 'd']);
    expect(b.inUse).toBe(60);
  });

  it('lets a reservation larger than the budget through when nothing else holds any', () => {
    const b = new ByteBudget(10);
    const big = b.reserve(1000, () => undefined);
    expect(big.granted).toBe(true);
    const small = b.reserve(1, () => undefined);
    expect(small.granted).toBe(false);
    big.release();
    expect(small.granted).toBe(true);
  });

  it('release is idempotent, and a queued reservation can leave the queue', async () => {
    const b = new ByteBudget(10);
    const a = b.reserve(10, () => undefined);
    let ran = false;
    const q = b.reserve(5, () => (ran = true));
    q.release();
    expect(b.waiting).toBe(0);
    a.release();
    a.release();
    expect(b.inUse).toBe(0);
    await tick();
    expect(ran).toBe(false);
  });

  it('never exceeds the limit (except one oversized alone) and grants everyone eventually', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 40 }), async (sizes) => {
        const limit = 100;
        const b = new ByteBudget(limit);
        const held = new Set<{ release(): void }>();
        let grants = 0;
        const all = sizes.map((n) => {
          const r = b.reserve(n, () => grants++);
          if (r.granted) grants++;
          return { r, n };
        });
        // Release granted ones one by one (what completing commands do) until all are done.
        for (let guard = 0; guard < 1000 && held.size < sizes.length; guard++) {
          const live = all.filter((x) => x.r.granted && !held.has(x.r));
          const total = live.reduce((s, x) => s + x.n, 0);
          expect(total <= limit || live.length === 1).toBe(true);
          expect(b.inUse).toBe(total);
          if (live.length === 0) break;
          held.add(live[0]!.r);
          live[0]!.r.release();
          await tick();
        }
        expect(held.size).toBe(sizes.length);
        expect(grants).toBe(sizes.length);
        expect(b.inUse).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps one owner within its share, and lets others pass a waiter held back only by its share', async () => {
    const b = new ByteBudget(100, 40);
    const hog = {};
    const other = {};
    const order: string[] = [];
    const h1 = b.reserve(30, () => order.push('h1'), hog);
    expect(h1.granted).toBe(true);
    const h2 = b.reserve(30, () => order.push('h2'), hog); // 60 > 40: waits for its own owner
    expect(h2.granted).toBe(false);
    const o1 = b.reserve(30, () => order.push('o1'), other); // fits, and h2 waits only on its share
    expect(o1.granted).toBe(true);
    expect(b.heldBy(hog)).toBe(30);
    expect(b.heldBy(other)).toBe(30);
    h1.release();
    expect(h2.granted).toBe(true);
    await tick();
    expect(order).toEqual(['h2']);
  });

  it('lets one reservation larger than the share through when its owner holds nothing', () => {
    const b = new ByteBudget(100, 10);
    const s = {};
    const big = b.reserve(50, () => undefined, s);
    expect(big.granted).toBe(true);
    expect(b.reserve(1, () => undefined, s).granted).toBe(false);
  });

  it('tryReserve takes bytes already held only if they fit and leaves the oldest waiter its room', () => {
    const b = new ByteBudget(100, 100);
    const busy = {}; // an owner that already holds something: no first-burst allowance
    const a = b.reserve(60, () => undefined, {});
    const waiter = b.reserve(30, () => undefined, busy); // fits: granted
    expect(waiter.granted).toBe(true);
    const big = b.reserve(50, () => undefined, {}); // queued
    expect(big.granted).toBe(false);
    // 90 used + 5 + 50 owed to the head waiter > 100: refused even though 5 would fit.
    expect(b.tryReserve(5, busy)).toBeUndefined();
    a.release();
    expect(big.granted).toBe(true); // 30 + 50
    const small = b.tryReserve(20, busy);
    expect(small?.granted).toBe(true);
    expect(b.inUse).toBe(100);
    expect(b.tryReserve(1, busy)).toBeUndefined();
  });

  it('tryReserve always gives an owner that holds nothing its bytes (a quiet session\'s first burst), once', () => {
    const b = new ByteBudget(100, 100);
    b.reserve(100, () => undefined, {});
    const quiet = {};
    expect(b.tryReserve(30, quiet)?.granted).toBe(true);
    expect(b.inUse).toBe(130);
    expect(b.tryReserve(1, quiet)).toBeUndefined();
  });

  it('a command holding part of its data may take the rest alone, even beyond the share', () => {
    const b = new ByteBudget(100, 40);
    const s = {};
    const first = b.tryReserve(10, s)!; // its unsolicited burst
    const rest = b.reserve(60, () => undefined, s, [first]); // larger than the share: alone but for itself
    expect(rest.granted).toBe(true);
    const other = b.reserve(60, () => undefined, s); // another command of the same session waits
    expect(other.granted).toBe(false);
  });

  it('serves the waiter whose owner holds least first: a newcomer is not kept behind owners that hold their share', async () => {
    const b = new ByteBudget(100, 100);
    const [h1, h2, fresh] = [{}, {}, {}];
    const a = b.reserve(50, () => undefined, h1);
    b.reserve(50, () => undefined, h2);
    const order: string[] = [];
    b.reserve(50, () => order.push('h2 again'), h2); // queued first, but h2 already holds 50
    b.reserve(50, () => order.push('fresh'), fresh); // holds nothing
    a.release();
    await tick();
    expect(order).toEqual(['fresh']);
  });
});
