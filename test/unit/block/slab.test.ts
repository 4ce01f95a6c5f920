import { describe, expect, it } from 'vitest';
import { BufferSlab } from '../../../src/block/slab.js';

describe('BufferSlab', () => {
  it('hands out views of one slab that never overlap, then starts a new slab when full', () => {
    const slab = new BufferSlab(16 * 1024);
    const views = [slab.take(4096), slab.take(4096), slab.take(4096), slab.take(4096)];
    expect(new Set(views.map((v) => v.buffer)).size).toBe(1);
    views.forEach((v, i) => v.fill(i + 1));
    views.forEach((v, i) => expect(v.every((b) => b === i + 1)).toBe(true));
    const fifth = slab.take(4096);
    expect(fifth.buffer).not.toBe(views[0]!.buffer);
    expect(fifth.length).toBe(4096);
  });

  it('keeps views 8-byte aligned within the slab and gives a request larger than a slab memory of its own', () => {
    const slab = new BufferSlab(1024);
    const a = slab.take(3);
    const b = slab.take(5);
    expect(b.byteOffset - a.byteOffset).toBe(8);
    const big = slab.take(4096);
    expect(big.length).toBe(4096);
    expect(big.buffer.byteLength).toBe(4096);
    expect(big.buffer).not.toBe(a.buffer);
  });
});
