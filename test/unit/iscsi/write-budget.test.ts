import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WriteBudget } from '../../../src/iscsi/write-budget.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('WriteBudget', () => {
  it('grants what fits at once and queues the rest in arrival order', async () => {
    const b = new WriteBudget(100);
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
    const b = new WriteBudget(10);
    const big = b.reserve(1000, () => undefined);
    expect(big.granted).toBe(true);
    const small = b.reserve(1, () => undefined);
    expect(small.granted).toBe(false);
    big.release();
    expect(small.granted).toBe(true);
  });

  it('release is idempotent, and a queued reservation can leave the queue', async () => {
    const b = new WriteBudget(10);
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
        const b = new WriteBudget(limit);
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
});
