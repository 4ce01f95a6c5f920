import { describe, expect, it } from 'vitest';
import { BlockError } from '../../../src/block/device.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { buildDescriptorSense, SenseKey } from '../../../src/scsi/sense.js';
import { cdb10, cdb12, cdb16, run, send, sense, setup } from './fixture.js';

type Size = 10 | 12 | 16;
const VERIFY = { 10: 0x2f, 12: 0xaf, 16: 0x8f } as const;
const WRITE_VERIFY = { 10: 0x2e, 12: 0xae, 16: 0x8e } as const;

function cdb(size: Size, opcode: number, lba: number, blocks: number, byte1: number): Buffer {
  if (size === 10) return cdb10(opcode, lba, blocks, byte1);
  if (size === 12) return cdb12(opcode, lba, blocks, byte1);
  return cdb16(opcode, lba, blocks, byte1);
}

const BYTCHK = (v: number): number => v << 1;
const pattern = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff));

describe.each([10, 12, 16] as const)('VERIFY(%i)', (size) => {
  const verify = (lba: number, blocks: number, byte1 = 0): Buffer => cdb(size, VERIFY[size], lba, blocks, byte1);

  it('BYTCHK 0 reads the range and transfers nothing', async () => {
    const { core, dev } = await setup(64);
    const s = send(core, verify(4, 8));
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 0 });
    expect((await s.response).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.filter((r) => r.op === 'read').map((r) => [r.offset, r.length])).toEqual([[4 * 512, 8 * 512]]);
  });

  it('BYTCHK 1 compares the blocks: equal is GOOD, a differing byte is MISCOMPARE with its offset', async () => {
    const { core, dev } = await setup(64);
    const data = pattern(3 * 512, size);
    data.copy(dev.buffer, 10 * 512);
    expect((await run(core, verify(10, 3, BYTCHK(1)), { data })).status).toBe(ScsiStatus.GOOD);
    const bad = Buffer.from(data);
    bad[700] ^= 0x58;
    const r = await run(core, verify(10, 3, BYTCHK(1)), { data: bad });
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(sense(r)).toEqual({ key: SenseKey.MISCOMPARE, asc: 0x1d, ascq: 0x00, information: 700 });
  });

  it('BYTCHK 3 compares one block of data-out against every block of the range', async () => {
    const { core, dev } = await setup(64);
    const block = pattern(512, 3);
    for (let b = 20; b < 24; b++) block.copy(dev.buffer, b * 512);
    const s = send(core, verify(20, 4, BYTCHK(3)), { data: block });
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 512 });
    expect((await s.response).status).toBe(ScsiStatus.GOOD);
    dev.buffer[22 * 512 + 5] ^= 1;
    const r = await run(core, verify(20, 4, BYTCHK(3)), { data: block });
    expect(sense(r)).toEqual({ key: SenseKey.MISCOMPARE, asc: 0x1d, ascq: 0x00, information: 5 });
  });

  it('refuses BYTCHK 2, VRPROTECT and ranges beyond the end', async () => {
    const { core } = await setup(64);
    expect(sense(await run(core, verify(0, 1, BYTCHK(2))))).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x24, fieldPointer: { cd: true, byte: 1, bit: 2 } });
    expect(sense(await run(core, verify(0, 1, 0x20)))).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x24, fieldPointer: { cd: true, byte: 1, bit: 7 } });
    expect(sense(await run(core, verify(63, 2)))).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x21 });
    expect(sense(await run(core, verify(65, 0)))).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x21 });
  });

  it('zero blocks is GOOD with no I/O and no data-out', async () => {
    const { core, dev } = await setup(64);
    const s = send(core, verify(5, 0, BYTCHK(1)));
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 0 });
    expect((await s.response).status).toBe(ScsiStatus.GOOD);
    expect(dev.log).toEqual([]);
  });

  it('a read failure during verification is a MEDIUM ERROR', async () => {
    const { core, dev } = await setup(64);
    dev.beforeIo = (op) => {
      if (op === 'read') throw new BlockError('IO_ERROR', 'boom');
    };
    expect(sense(await run(core, verify(7, 1)))).toMatchObject({ key: SenseKey.MEDIUM_ERROR, asc: 0x11, information: 7 });
  });
});

describe.each([10, 12, 16] as const)('WRITE AND VERIFY(%i)', (size) => {
  const wv = (lba: number, blocks: number, byte1 = 0): Buffer => cdb(size, WRITE_VERIFY[size], lba, blocks, byte1);

  it('writes durably, then reads back (BYTCHK 0 and 1)', async () => {
    for (const bytchk of [0, 1]) {
      const { core, dev } = await setup(64);
      const data = pattern(2 * 512, 9 + bytchk);
      const r = await run(core, wv(30, 2, BYTCHK(bytchk)), { data });
      expect(r.status).toBe(ScsiStatus.GOOD);
      expect(r.dataOutTransferLength).toBe(1024);
      expect(dev.buffer.subarray(30 * 512, 32 * 512).equals(data)).toBe(true);
      expect(dev.log.map((x) => x.op)).toEqual(['write', 'read']);
      expect(dev.log[0]!.fua).toBe(true);
    }
  });

  it('refuses WRPROTECT, BYTCHK 2/3, a read-only LU and ranges beyond the end', async () => {
    const { core } = await setup(64);
    const one = Buffer.alloc(512);
    expect(sense(await run(core, wv(0, 1, 0x40), { data: one }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 7 } });
    expect(sense(await run(core, wv(0, 1, BYTCHK(3)), { data: one }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 2 } });
    expect(sense(await run(core, wv(64, 1), { data: one }))).toMatchObject({ asc: 0x21 });
    const ro = await setup(64, { readOnly: true });
    expect(sense(await run(ro.core, wv(0, 1), { data: one }))).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27 });
  });
});

describe('miscompare sense in descriptor format', () => {
  it('carries the offset in the information descriptor', () => {
    const b = buildDescriptorSense({ key: SenseKey.MISCOMPARE, asc: 0x1d, ascq: 0, information: 4100 });
    expect(b[1]).toBe(0x0e);
    expect(b.readBigUInt64BE(12)).toBe(4100n);
  });
});
