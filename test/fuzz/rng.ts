/**
 * The fuzzer's only source of randomness: a seeded xoroshiro128+ (pure-rand). A run is
 * (seed, number of cases); case i draws from its own generator seeded from (seed, i), so one
 * case can be replayed alone and cases stay the same when the run is longer or shorter.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export class Rng {
  private readonly gen: RandomGenerator;

  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** The generator of case `index` of the run seeded `seed`. */
  static forCase(seed: number, index: number): Rng {
    // Mix (seed, index) so neighbouring cases do not start from neighbouring states.
    let h = Math.imul((seed ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
    h ^= h >>> 16;
    h = Math.imul(h, 0x27d4eb2f);
    h ^= h >>> 15;
    return new Rng(h);
  }

  /** An integer in [min, max] (both included; max - min < 2^32). */
  int(min: number, max: number): number {
    if (max - min <= 0x7fffffff) return uniformInt(this.gen, min, max);
    const hi = uniformInt(this.gen, 0, Math.floor((max - min) / 0x10000));
    return Math.min(max, min + hi * 0x10000 + uniformInt(this.gen, 0, 0xffff));
  }

  /** True with probability p. */
  bool(p = 0.5): boolean {
    return uniformInt(this.gen, 0, 999_999) < p * 1_000_000;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.int(0, items.length - 1)]!;
  }

  /** Weighted choice: [weight, value] pairs. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    const total = items.reduce((s, [w]) => s + w, 0);
    let x = this.int(0, total - 1);
    for (const [w, v] of items) {
      if (x < w) return v;
      x -= w;
    }
    return items[items.length - 1]![1];
  }

  /**
   * An integer in [min, max] that is often a boundary: the ends, the given edges and their
   * neighbours (off-by-one bugs live there), otherwise uniform.
   */
  edgy(min: number, max: number, edges: readonly number[] = []): number {
    if (this.bool(0.45)) {
      const base = this.pick([min, max, ...edges.filter((e) => e >= min && e <= max)]);
      const v = base + this.pick([-1, 0, 0, 0, 1]);
      return v >= min && v <= max ? v : base;
    }
    return this.int(min, max);
  }

  /** A 32-bit unsigned value, biased towards 0, 0xffffffff and small numbers. */
  u32(): number {
    return this.weighted<() => number>([
      [2, () => 0],
      [2, () => 0xffffffff],
      [2, () => 0x7fffffff + this.int(0, 2)],
      [3, () => this.int(1, 64)],
      [5, () => this.int(0, 0xffffffff)],
    ])();
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.gen.next();
      for (let j = 0; j < 4 && i + j < n; j++) b[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return b;
  }
}

/** A run seed from SCATTER_FUZZ_SEED, or a fresh one (printed, so the run can be replayed). */
export function runSeed(env: string | undefined): number {
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n)) throw new Error(`SCATTER_FUZZ_SEED must be an integer, got ${env}`);
    return n | 0;
  }
  return (Date.now() ^ (process.pid << 16)) | 0;
}
