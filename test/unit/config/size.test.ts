import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SizeError, formatSize, parseSize } from '../../../src/config/size.js';

describe('parseSize', () => {
  it.each([
    [512, 512],
    ['512', 512],
    ['0', 0],
    ['4K', 4096],
    ['4k', 4096],
    ['4KiB', 4096],
    ['64MiB', 64 * 2 ** 20],
    ['64 MiB', 64 * 2 ** 20],
    ['1G', 2 ** 30],
    ['1GiB', 2 ** 30],
    ['1gib', 2 ** 30],
    ['2T', 2 * 2 ** 40],
    ['3TiB', 3 * 2 ** 40],
    ['100B', 100],
  ] as const)('%j is %i bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each([
    ['1GB', /ambiguous unit GB.*G or GiB/],
    ['1mb', /ambiguous unit mb.*M or MiB/],
    ['1.5G', /invalid size/],
    ['-1', /invalid size/],
    ['', /invalid size/],
    ['G', /invalid size/],
    ['1X', /unknown unit "X"/],
    ['1 GiB extra', /invalid size/],
    ['99999999999T', /too large/],
  ])('rejects %j', (input, message) => {
    expect(() => parseSize(input)).toThrow(SizeError);
    expect(() => parseSize(input)).toThrow(message);
  });

  it('rejects numbers that are not whole byte counts', () => {
    for (const n of [1.5, -1, Number.NaN, Infinity, 2 ** 53]) expect(() => parseSize(n)).toThrow(SizeError);
  });
});

describe('formatSize', () => {
  it('uses the largest exact unit', () => {
    expect(formatSize(2 ** 30)).toBe('1GiB');
    expect(formatSize(1536 * 2 ** 20)).toBe('1536MiB');
    expect(formatSize(4096)).toBe('4KiB');
    expect(formatSize(1000)).toBe(1000);
    expect(formatSize(0)).toBe(0);
  });

  it('round-trips through parseSize', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (n) => parseSize(formatSize(n)) === n),
      { numRuns: 300 },
    );
  });
});
