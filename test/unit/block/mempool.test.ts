import { Cancellation } from '../../../src/block/cancel.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAddressAligned } from '../../../src/block/alignment.js';
import { BlockError } from '../../../src/block/device.js';
import { Mempool, isPoolMemory, poolBaseAlignment } from '../../../src/block/mempool.js';
import { waitUntil } from '../../helpers/wait.js';

const PAGE = 4096;

describe('Mempool', () => {
  it('carves distinct pageSize pages at page-aligned offsets of registered ArrayBuffers', () => {
    const pool = new Mempool({ pages: 10, pageSize: PAGE, runBytes: 3 * PAGE });
    const pages = pool.tryAlloc(10)!;
    expect(pages).toHaveLength(10);
    for (const p of pages) {
      expect(p.length).toBe(PAGE);
      expect(p.byteOffset % PAGE).toBe(0);
      expect(isPoolMemory(p)).toBe(true);
      expect(poolBaseAlignment(p)).toBe(PAGE);
      expect(isAddressAligned(p, 512)).toBe(true);
      expect(isAddressAligned(p.subarray(1), 512)).toBe(false);
    }
    // Writing one page must not show through any other: they do not overlap.
    pages.forEach((p, i) => p.fill(i));
    pages.forEach((p, i) => expect(p.every((b) => b === i)).toBe(true));
    expect(isPoolMemory(Buffer.alloc(PAGE))).toBe(false);
    expect(isAddressAligned(Buffer.alloc(PAGE), 512)).toBe(false);
    expect(isAddressAligned(Buffer.alloc(PAGE), 1)).toBe(true);
  });

  it('rejects nonsense geometry', () => {
    expect(() => new Mempool({ pages: 0, pageSize: PAGE })).toThrow(RangeError);
    expect(() => new Mempool({ pages: 1, pageSize: 1000 })).toThrow(RangeError);
  });

  it('is all or nothing and counts in-use and high water', () => {
    const pool = new Mempool({ pages: 4, pageSize: PAGE });
    const a = pool.tryAlloc(3)!;
    expect(pool.tryAlloc(2)).toBeNull();
    expect(pool.inUse).toBe(3);
    expect(pool.available).toBe(1);
    pool.free(a);
    expect(pool.stats).toMatchObject({ capacity: 4, inUse: 0, available: 4, highWater: 3, allocations: 1 });
  });

  it('refuses more than its capacity at once with POOL_EXHAUSTED', async () => {
    const pool = new Mempool({ pages: 4, pageSize: PAGE });
    await expect(pool.alloc(5)).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
    expect(pool.tryAlloc(5)).toBeNull();
    expect(pool.stats.failures).toBe(2);
  });

  it('serves waiters in FIFO order, a small request never overtaking a queued large one', async () => {
    const pool = new Mempool({ pages: 4, pageSize: PAGE });
    const held = pool.tryAlloc(4)!;
    const order: string[] = [];
    const big = pool.alloc(3).then((p) => (order.push('big'), p));
    const small = pool.alloc(1).then((p) => (order.push('small'), p));
    expect(pool.tryAlloc(1)).toBeNull(); // would jump the queue
    pool.free(held.slice(0, 2)); // 2 free: not enough for the head (3), small must still wait
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    pool.free(held.slice(2)); // 4 free: big (3) then small (1)
    const [b, s] = await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
    expect(pool.inUse).toBe(4);
    expect(pool.stats.waits).toBe(2);
    pool.free([...b, ...s]);
    expect(pool.inUse).toBe(0);
  });

  it('times out a waiter with POOL_EXHAUSTED and then serves the ones behind it', async () => {
    const pool = new Mempool({ pages: 2, pageSize: PAGE });
    const held = pool.tryAlloc(1)!;
    const head = pool.alloc(2, { timeoutMs: 5 });
    const behind = pool.alloc(1);
    await expect(head).rejects.toBeInstanceOf(BlockError);
    await expect(head).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
    const got = await behind;
    expect(got).toHaveLength(1);
    pool.free([...held, ...got]);
    expect(pool.stats.waiting).toBe(0);
  });

  it('timeoutMs 0 never waits', async () => {
    const pool = new Mempool({ pages: 1, pageSize: PAGE });
    const held = pool.tryAlloc(1)!;
    await expect(pool.alloc(1, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
    pool.free(held);
  });

  it('aborts a waiter (and an already aborted signal) with ABORTED', async () => {
    const pool = new Mempool({ pages: 1, pageSize: PAGE });
    const held = pool.tryAlloc(1)!;
    const ac = new Cancellation();
    const waiting = pool.alloc(1, { signal: ac.signal });
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(pool.alloc(1, { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    pool.free(held);
    expect(pool.stats).toMatchObject({ inUse: 0, waiting: 0 });
  });

  it('throws on double free and foreign pages without changing its counts', () => {
    const pool = new Mempool({ pages: 2, pageSize: PAGE });
    const other = new Mempool({ pages: 1, pageSize: PAGE });
    const [p] = pool.tryAlloc(1)!;
    expect(() => pool.free(other.tryAlloc(1)!)).toThrow();
    expect(() => pool.free([p!, p!])).toThrow();
    expect(pool.inUse).toBe(1);
    pool.free([p!]);
    expect(() => pool.free([p!])).toThrow();
    expect(pool.inUse).toBe(0);
  });

  it('fault injector makes allocations fail cleanly', async () => {
    const pool = new Mempool({ pages: 2, pageSize: PAGE });
    pool.faultInjector = (n) => n === 2;
    await expect(pool.alloc(2)).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
    expect(pool.tryAlloc(2)).toBeNull();
    const one = await pool.alloc(1);
    pool.free(one);
    expect(pool.inUse).toBe(0);
  });

  it('property: random alloc/free interleavings never exceed capacity, never hand a page out twice, and drain', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean()), { minLength: 1, maxLength: 40 }),
        async (capacity, ops) => {
          const pool = new Mempool({ pages: capacity, pageSize: 512 });
          const held: Buffer[][] = [];
          const waits: Promise<void>[] = [];
          const out = new Set<Buffer>();
          const take = (pages: Buffer[]): void => {
            for (const p of pages) {
              expect(out.has(p)).toBe(false);
              out.add(p);
            }
            held.push(pages);
          };
          for (const [n, doFree] of ops) {
            if (doFree && held.length > 0) {
              const pages = held.shift()!;
              pages.forEach((p) => out.delete(p));
              pool.free(pages);
            } else {
              waits.push(pool.alloc(n, { timeoutMs: 1 }).then(take, (e: BlockError) => expect(e.code).toBe('POOL_EXHAUSTED')));
            }
            expect(pool.inUse).toBeLessThanOrEqual(capacity);
            expect(pool.inUse + pool.available).toBe(capacity);
            await Promise.resolve();
          }
          // Return everything, one holder per round; every waiter then gets served (its pages come
          // back in a later round) or times out.
          const returnOne = (): boolean => {
            const pages = held.shift();
            if (pages) {
              pages.forEach((p) => out.delete(p));
              pool.free(pages);
            }
            return held.length === 0 && pool.stats.waiting === 0;
          };
          await waitUntil(returnOne, 'every waiter is served or has timed out', { pollMs: 2 });
          await Promise.all(waits);
          for (const pages of held.splice(0)) pool.free(pages);
          expect(pool.inUse).toBe(0);
          expect(pool.stats.highWater).toBeLessThanOrEqual(capacity);
        },
      ),
      { numRuns: 40 },
    );
  });
});
