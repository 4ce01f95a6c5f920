import { describe, expect, it } from 'vitest';
import { BlockError } from '../../../src/block/device.js';
import {
  overwriteChunkBytes,
  overwriteOperation,
  parseOverwriteParameters,
  type OverwritePlan,
} from '../../../src/scsi/sbc/sanitize-overwrite.js';
import { isSenseReason } from '../../../src/scsi/sense-reasons.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { MemDevice } from '../../helpers/mem-device.js';

/** OVERWRITE parameter list: INVERT | TEST | OVERWRITE COUNT, reserved, INITIALIZATION PATTERN LENGTH, pattern. */
function params(byte0: number, pattern: Buffer, lengthField = pattern.length, byte1 = 0): Buffer {
  const b = Buffer.alloc(4 + pattern.length);
  b[0] = byte0;
  b[1] = byte1;
  b.writeUInt16BE(lengthField, 2);
  pattern.copy(b, 4);
  return b;
}

describe('SANITIZE OVERWRITE parameter list', () => {
  it('decodes INVERT, OVERWRITE COUNT and the pattern', () => {
    const plan = parseOverwriteParameters(params(0x80 | 3, Buffer.from([1, 2, 3, 4])), 512);
    expect(plan).toEqual({ invert: true, passes: 3, pattern: Buffer.from([1, 2, 3, 4]) });
    expect(parseOverwriteParameters(params(31, Buffer.alloc(512, 7)), 512)).toMatchObject({ invert: false, passes: 31 });
  });

  it('ignores bytes past the pattern the length field announces', () => {
    const b = Buffer.concat([params(1, Buffer.from([9, 9])), Buffer.from([5, 5])]);
    expect(parseOverwriteParameters(b, 512)).toMatchObject({ pattern: Buffer.from([9, 9]) });
  });

  it.each([
    ['OVERWRITE COUNT 0', params(0x00, Buffer.alloc(4, 1)), { byte: 0, bit: 4 }],
    ['a TEST value', params(0x20 | 1, Buffer.alloc(4, 1)), { byte: 0, bit: 6 }],
    ['the reserved byte 1', params(1, Buffer.alloc(4, 1), 4, 0x01), { byte: 1 }],
    ['INITIALIZATION PATTERN LENGTH 0', params(1, Buffer.alloc(4, 1), 0), { byte: 2 }],
    ['INITIALIZATION PATTERN LENGTH > block length', params(1, Buffer.alloc(516, 1)), { byte: 2 }],
    ['INITIALIZATION PATTERN LENGTH beyond the list', params(1, Buffer.alloc(4, 1), 8), { byte: 2 }],
  ])('%s is INVALID FIELD IN PARAMETER LIST', (_name, data, fieldPointer) => {
    const r = parseOverwriteParameters(data, 512);
    expect(isSenseReason(r as object)).toBe(true);
    expect(r).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0, fieldPointer: { cd: false, ...fieldPointer } });
  });
});

function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

describe('SANITIZE OVERWRITE operation', () => {
  it('writes the pattern from the first byte of every block, one flush per pass', async () => {
    const dev = new MemDevice(8, 512);
    dev.buffer.fill(0x61);
    const plan: OverwritePlan = { invert: false, passes: 2, pattern: Buffer.from([0xde, 0xad, 0xbe]) };
    const op = overwriteOperation(dev, plan, { rate: 0 });
    expect(op.total).toBe(2 * 8 * 512);
    const reported: number[] = [];
    await op.run((d) => reported.push(d));
    for (let block = 0; block < 8; block++) {
      const b = dev.buffer.subarray(block * 512, (block + 1) * 512);
      expect([b[0], b[1], b[2], b[3], b[510], b[511]]).toEqual([0xde, 0xad, 0xbe, 0xde, 0xde, 0xad]); // 510 % 3 = 0
    }
    expect(dev.log.filter((r) => r.op === 'flush')).toHaveLength(2);
    expect(reported.at(-1)).toBe(op.total);
  });

  it('INVERT alternates pattern and inverse and ends on the pattern (even count starts inverted)', async () => {
    const dev = new MemDevice(4, 512);
    const writes: number[] = [];
    const write = dev.write.bind(dev);
    dev.write = async (offset, data, opts) => {
      await write(offset, data, opts);
      if (offset === 0) writes.push(dev.buffer[0]!);
    };
    await overwriteOperation(dev, { invert: true, passes: 4, pattern: Buffer.from([0x0f]) }, { rate: 0 }).run(() => {});
    expect(writes).toEqual([0xf0, 0x0f, 0xf0, 0x0f]);
    expect(dev.buffer.every((b) => b === 0x0f)).toBe(true);
    // An odd count starts with the pattern itself.
    writes.length = 0;
    await overwriteOperation(dev, { invert: true, passes: 3, pattern: Buffer.from([0x0f]) }, { rate: 0 }).run(() => {});
    expect(writes).toEqual([0x0f, 0xf0, 0x0f]);
  });

  it('paces the writes at the configured rate (an injected clock: no real waiting)', async () => {
    const dev = new MemDevice(2048, 512); // 1 MiB
    const clock = fakeClock();
    const rate = 256 * 1024; // bytes per second
    await overwriteOperation(dev, { invert: false, passes: 1, pattern: Buffer.from([1]) }, { rate, ...clock }).run(() => {});
    // 1 MiB at 256 KiB/s: 4 s of pacing in writes of rate / 10.
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBeCloseTo(4000, 6);
    const writes = dev.log.filter((r) => r.op === 'write');
    expect(writes.slice(0, -1).every((r) => r.length === overwriteChunkBytes(512, dev.size, rate))).toBe(true);
    expect(writes.reduce((a, r) => a + r.length, 0)).toBe(dev.size);
    expect(overwriteChunkBytes(512, dev.size, rate)).toBe(26112); // 25.6 KiB rounded down to whole blocks
    expect(overwriteChunkBytes(512, 64 << 20, 0)).toBe(1 << 20);
    expect(overwriteChunkBytes(4096, 64 << 20, 100)).toBe(4096);
  });

  it('retries a write the bounce pool could not serve, but fails on an I/O error', async () => {
    const dev = new MemDevice(4, 512);
    let busy = 2;
    dev.beforeIo = (op) => {
      if (op === 'write' && busy-- > 0) throw new BlockError('POOL_EXHAUSTED', 'busy');
    };
    const clock = fakeClock();
    await overwriteOperation(dev, { invert: false, passes: 1, pattern: Buffer.from([2]) }, { rate: 0, ...clock }).run(() => {});
    expect(dev.buffer.every((b) => b === 2)).toBe(true);
    expect(clock.slept).toHaveLength(2);

    dev.beforeIo = (op) => {
      if (op === 'write') throw new BlockError('IO_ERROR', 'EIO');
    };
    await expect(
      overwriteOperation(dev, { invert: false, passes: 1, pattern: Buffer.from([3]) }, { rate: 0 }).run(() => {}),
    ).rejects.toMatchObject({ code: 'IO_ERROR' });
  });
});
