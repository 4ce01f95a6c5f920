import { describe, expect, it } from 'vitest';
import { SlotList } from '../../../src/shared/slot-list.js';

describe('SlotList', () => {
  it('holds what was added until its slot is removed, and reuses freed slots', () => {
    const l = new SlotList<string>();
    const a = l.add('a');
    const b = l.add('b');
    const c = l.add('c');
    expect(l.size).toBe(3);
    l.remove(b);
    expect(l.values().sort()).toEqual(['a', 'c']);
    expect(l.add('d')).toBe(b); // the freed slot, not a new one
    l.remove(a);
    l.remove(c);
    expect(l.values()).toEqual(['d']);
    expect(l.size).toBe(1);
  });

  it('throws on removing a slot twice', () => {
    const l = new SlotList<number>();
    const s = l.add(1);
    l.remove(s);
    expect(() => l.remove(s)).toThrow(/empty/);
  });

  it('gives a snapshot: removing while going through values() is safe', () => {
    const l = new SlotList<number>();
    const slots = [1, 2, 3, 4].map((n) => l.add(n));
    let seen = 0;
    for (const _ of l.values()) l.remove(slots[seen++]!);
    expect(seen).toBe(4);
    expect(l.size).toBe(0);
  });
});
