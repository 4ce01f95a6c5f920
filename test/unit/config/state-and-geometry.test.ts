import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';

describe('stateDir', () => {
  it('defaults to ./data/state resolved against the working directory', () => {
    expect(parseConfig('', 'test').stateDir).toBe(resolve('data/state'));
  });

  it('resolves a relative path and keeps an absolute one', () => {
    expect(parseConfig('stateDir: var/scatter', 'test').stateDir).toBe(resolve('var/scatter'));
    expect(parseConfig('stateDir: /var/lib/scatter', 'test').stateDir).toBe('/var/lib/scatter');
  });

  it('rejects an empty path', () => {
    expect(() => parseConfig('stateDir: ""', 'test')).toThrow(/stateDir/);
  });
});

describe('file backstore physicalBlockSize', () => {
  const file = (extra: string): string =>
    `targets:\n  - iqn: iqn.2026-11.io.scatter:t\n    luns:\n      - lun: 0\n        backstore: { type: file, path: /tmp/x.img, size: 1MiB${extra} }\n`;
  const backstore = (extra: string) => parseConfig(file(extra), 'test').targets[0]!.luns[0]!.backstore;

  it('is absent by default (the LU then reports blockSize) and accepts power-of-two multiples of blockSize', () => {
    expect(backstore('')).not.toHaveProperty('physicalBlockSize');
    expect(backstore(', physicalBlockSize: 4096')).toMatchObject({ blockSize: 512, physicalBlockSize: 4096 });
    expect(backstore(', blockSize: 4096, physicalBlockSize: 4096')).toMatchObject({ physicalBlockSize: 4096 });
    expect(backstore(', physicalBlockSize: 16777216')).toMatchObject({ physicalBlockSize: 16777216 }); // 2^15 blocks
  });

  it.each([
    ['not a multiple', ', physicalBlockSize: 1536'],
    ['smaller than blockSize', ', blockSize: 4096, physicalBlockSize: 512'],
    ['more than 2^15 blocks', ', physicalBlockSize: 33554432'],
    ['not whole', ', physicalBlockSize: 4096.5'],
  ])('rejects one that is %s', (_why, extra) => {
    expect(() => backstore(extra)).toThrow(/physicalBlockSize/);
  });
});

describe('block backstore writeCache', () => {
  const block = (extra: string) =>
    parseConfig(`targets:\n  - iqn: iqn.2026-11.io.scatter:t\n    luns:\n      - lun: 0\n        backstore: { type: block, path: /dev/loop9${extra} }\n`, 'test')
      .targets[0]!.luns[0]!.backstore;

  it('defaults to true and takes false', () => {
    expect(block('')).toMatchObject({ type: 'block', writeCache: true });
    expect(block(', writeCache: false')).toMatchObject({ type: 'block', writeCache: false });
  });

  it('a block backstore still has no size or blockSize of its own (they come from the device)', () => {
    expect(() => block(', blockSize: 512')).toThrow(/blockSize/);
  });
});
