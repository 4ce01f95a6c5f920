import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntMap } from '../../../src/shared/int-map.js';

/** Operations on IntMap and on a Map side by side: they must agree after every step. */
type Op = { kind: 'set'; key: number; value: number } | { kind: 'delete'; key: number } | { kind: 'get'; key: number };

const key = fc.oneof(
  fc.integer({ min: 0, max: 64 }), // collisions and probe runs in a small table
  fc.integer({ min: 0xffff_fff0, max: 0x1_0000_0010 }), // around 2^32 (ITTs; the high word mixes in)
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key }),
  fc.record({ kind: fc.constant('get' as const), key }),
);

describe('IntMap', () => {
  it('behaves like a Map for any sequence of set, delete and get', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const m = new IntMap<number>(2);
        const ref = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            m.set(o.key, o.value);
            ref.set(o.key, o.value);
          } else if (o.kind === 'delete') {
            expect(m.delete(o.key)).toBe(ref.delete(o.key));
          }
          expect(m.get(o.key)).toBe(ref.get(o.key));
          expect(m.has(o.key)).toBe(ref.has(o.key));
          expect(m.size).toBe(ref.size);
        }
        expect([...m.values()].sort((a, b) => a - b)).toEqual([...ref.values()].sort((a, b) => a - b));
        for (const k of ref.keys()) expect(m.get(k)).toBe(ref.get(k));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every entry through a long sliding window of consecutive keys (tasks by ITT)', () => {
    const m = new IntMap<number>();
    for (let k = 0; k < 100_000; k++) {
      m.set(k, k * 2);
      if (k >= 32) expect(m.delete(k - 32)).toBe(true);
    }
    expect(m.size).toBe(32);
    for (let k = 100_000 - 32; k < 100_000; k++) expect(m.get(k)).toBe(k * 2);
    expect(m.get(100_000 - 33)).toBeUndefined();
  });

  it('lets entries be deleted while iterating its values', () => {
    const m = new IntMap<number>();
    for (let k = 0; k < 50; k++) m.set(k, k);
    for (const v of m.values()) m.delete(v);
    expect(m.size).toBe(0);
  });

  it('refuses keys that are not non-negative safe integers', () => {
    const m = new IntMap<string>();
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => m.set(bad, 'x')).toThrow(RangeError);
  });
});
