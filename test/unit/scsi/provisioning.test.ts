import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { capacityOnlyDevice } from '../../helpers/mem-device.js';
import { cdb10, cdb16, dataOf, makeLu, makeNexus, run, send, sense, setup, TARGET } from './fixture.js';

const WS10 = 0x41;
const WS16 = 0x93;
const UNMAP_BIT = 0x08;
const fill = (v: number, n = 512): Buffer => Buffer.alloc(n, v);

function unmapList(ranges: [number, number][]): Buffer {
  const b = Buffer.alloc(8 + 16 * ranges.length);
  b.writeUInt16BE(b.length - 2, 0);
  b.writeUInt16BE(16 * ranges.length, 2);
  ranges.forEach(([lba, n], i) => {
    b.writeBigUInt64BE(BigInt(lba), 8 + 16 * i);
    b.writeUInt32BE(n, 16 + 16 * i);
  });
  return b;
}

const unmapCdb = (length: number, anchor = false): number[] => [0x42, anchor ? 1 : 0, 0, 0, 0, 0, 0, length >> 8, length & 0xff, 0];
const glsCdb = (lba: number, allocation = 1024): Buffer => {
  const c = cdb16(0x9e, lba, allocation);
  c[1] = 0x12;
  return c;
};

describe('WRITE SAME(10/16)', () => {
  it('writes the one data-out block to every block of the range', async () => {
    for (const op of [WS10, WS16]) {
      const { core, dev } = await setup(64);
      const s = send(core, op === WS10 ? cdb10(op, 3, 5) : cdb16(op, 3, 5), { data: fill(0x5a) });
      expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 512 });
      expect((await s.response).status).toBe(ScsiStatus.GOOD);
      expect(dev.buffer.subarray(3 * 512, 8 * 512).every((b) => b === 0x5a)).toBe(true);
      expect(dev.buffer[8 * 512]).toBe(0);
      expect(dev.buffer[3 * 512 - 1]).toBe(0);
    }
  });

  it('0 blocks runs to the end of the medium (WSNZ = 0)', async () => {
    const { core, dev } = await setup(64);
    expect((await run(core, cdb10(WS10, 60, 0), { data: fill(7) })).status).toBe(ScsiStatus.GOOD);
    expect(dev.buffer.subarray(60 * 512).every((b) => b === 7)).toBe(true);
    expect(dev.buffer[60 * 512 - 1]).toBe(0);
  });

  it('NDOB writes zeros without data-out', async () => {
    const { core, dev } = await setup(64);
    dev.buffer.fill(9);
    const s = send(core, cdb16(WS16, 1, 2, 0x01));
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 0 });
    expect((await s.response).status).toBe(ScsiStatus.GOOD);
    expect(dev.buffer.subarray(512, 3 * 512).every((b) => b === 0)).toBe(true);
    expect(dev.buffer[3 * 512]).toBe(9);
  });

  it('UNMAP on a thin LU deallocates the range; the blocks read back as zeros', async () => {
    const { core, dev } = await setup(64, { thin: true });
    dev.buffer.fill(0xff);
    expect((await run(core, cdb16(WS16, 8, 4, UNMAP_BIT), { data: fill(0xff) })).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.filter((r) => r.op === 'discard')).toEqual([{ op: 'discard', offset: 8 * 512, length: 4 * 512 }]);
    expect(dataOf(await run(core, cdb10(0x28, 8, 4))).every((b) => b === 0)).toBe(true);
  });

  it('refuses UNMAP on a fully provisioned LU, ANCHOR, PBDATA/LBDATA, WRPROTECT, too many blocks, beyond the end, read-only', async () => {
    const { core } = await setup(0x10001);
    const d = fill(0);
    expect(sense(await run(core, cdb10(WS10, 0, 1, UNMAP_BIT), { data: d }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 3 } });
    expect(sense(await run(core, cdb10(WS10, 0, 1, 0x10), { data: d }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 4 } });
    expect(sense(await run(core, cdb10(WS10, 0, 1, 0x02), { data: d }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 2 } });
    expect(sense(await run(core, cdb10(WS10, 0, 1, 0x20), { data: d }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 7 } });
    expect(sense(await run(core, cdb16(WS16, 0, 0x10000), { data: d }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 10 } });
    expect(sense(await run(core, cdb10(WS10, 0, 0), { data: d }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 7 } });
    expect(sense(await run(core, cdb16(WS16, 0x10000, 2), { data: d }))).toMatchObject({ asc: 0x21 });
    const ro = await setup(64, { readOnly: true });
    expect(sense(await run(ro.core, cdb10(WS10, 0, 1), { data: d }))).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27 });
    // Write protection is reported before the missing provisioning support.
    expect(sense(await run(ro.core, cdb10(WS10, 0, 1, UNMAP_BIT), { data: d }))).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27 });
    expect(sense(await run(ro.core, unmapCdb(24), { data: unmapList([[0, 1]]) }))).toMatchObject({ key: SenseKey.DATA_PROTECT });
  });
});

describe('UNMAP', () => {
  it('deallocates every descriptor of the list', async () => {
    const { core, dev } = await setup(64, { thin: true });
    dev.buffer.fill(1);
    const list = unmapList([
      [0, 2],
      [10, 3],
      [20, 0],
    ]);
    expect((await run(core, unmapCdb(list.length), { data: list })).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.filter((r) => r.op === 'discard').map((r) => [r.offset / 512, r.length / 512])).toEqual([
      [0, 2],
      [10, 3],
    ]);
    expect(dev.buffer[2 * 512]).toBe(1);
    expect(dev.buffer.subarray(10 * 512, 13 * 512).every((b) => b === 0)).toBe(true);
  });

  it('an empty parameter list is GOOD; a list shorter than its header is PARAMETER LIST LENGTH ERROR', async () => {
    const { core } = await setup(64, { thin: true });
    expect((await run(core, unmapCdb(0))).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(core, unmapCdb(6), { data: Buffer.alloc(6) }))).toEqual({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x1a, ascq: 0 });
  });

  it('refuses ranges beyond the end, too many blocks, ANCHOR, a read-only LU and a fully provisioned LU', async () => {
    const { core } = await setup(64, { thin: true });
    const beyond = unmapList([[63, 2]]);
    expect(sense(await run(core, unmapCdb(beyond.length), { data: beyond }))).toMatchObject({ asc: 0x21 });
    // A large LU without storage: only the limit check runs.
    const big = new ScsiTargetCore({ targetName: TARGET, luns: [makeLu({ ...capacityOnlyDevice(0x200000), discard: async () => {} }, { thin: true })] });
    big.addNexus(makeNexus());
    await run(big, [0, 0, 0, 0, 0, 0]);
    const tooMany = unmapList([
      [0, 0x80000],
      [0x100000, 0x80001],
    ]);
    expect(sense(await run(big, unmapCdb(tooMany.length), { data: tooMany }))).toEqual({
      key: SenseKey.ILLEGAL_REQUEST,
      asc: 0x26,
      ascq: 0,
      fieldPointer: { cd: false, byte: 32 },
    });
    const descriptors = unmapList(Array.from({ length: 257 }, (): [number, number] => [0, 0]));
    expect(sense(await run(core, unmapCdb(descriptors.length), { data: descriptors }))).toMatchObject({ asc: 0x26, fieldPointer: { cd: false, byte: 2 } });
    expect(sense(await run(core, unmapCdb(24, true), { data: unmapList([[0, 1]]) }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 0 } });
    const ro = await setup(64, { thin: true, readOnly: true });
    expect(sense(await run(ro.core, unmapCdb(24), { data: unmapList([[0, 1]]) }))).toMatchObject({ key: SenseKey.DATA_PROTECT });
    const thick = await setup(64);
    expect(sense(await run(thick.core, unmapCdb(24), { data: unmapList([[0, 1]]) }))).toMatchObject({ asc: 0x20 });
  });
});

describe('GET LBA STATUS', () => {
  it('reports mapped and deallocated runs from the starting LBA', async () => {
    const { core } = await setup(64, { thin: true });
    const list = unmapList([[8, 4]]);
    await run(core, unmapCdb(list.length), { data: list });
    const d = dataOf(await run(core, glsCdb(2)));
    expect(d.readUInt32BE(0)).toBe(4 + 3 * 16);
    const desc = (i: number): [number, number, number] => [Number(d.readBigUInt64BE(8 + 16 * i)), d.readUInt32BE(16 + 16 * i), d[20 + 16 * i]!];
    expect([desc(0), desc(1), desc(2)]).toEqual([
      [2, 6, 0],
      [8, 4, 1],
      [12, 52, 0],
    ]);
  });

  it('a write maps deallocated blocks again', async () => {
    const { core } = await setup(64, { thin: true });
    const list = unmapList([[0, 64]]);
    await run(core, unmapCdb(list.length), { data: list });
    await run(core, cdb10(0x2a, 0, 1), { data: fill(1) });
    const d = dataOf(await run(core, glsCdb(0, 24)));
    expect(d.length).toBe(24);
    expect([d.readUInt32BE(16), d[20]]).toEqual([1, 0]);
  });

  it('a fully provisioned LU is mapped everywhere; an LBA past the end is LBA OUT OF RANGE', async () => {
    const { core } = await setup(64);
    const d = dataOf(await run(core, glsCdb(10)));
    expect([d.readUInt32BE(16), d[20]]).toEqual([54, 0]);
    expect(sense(await run(core, glsCdb(64)))).toMatchObject({ asc: 0x21 });
  });
});

describe('thin provisioning in READ CAPACITY(16) and VPD', () => {
  const rc16 = (): Buffer => {
    const c = cdb16(0x9e, 0, 32);
    c[1] = 0x10;
    return c;
  };
  const vpd = (page: number): number[] => [0x12, 0x01, page, 0, 255, 0];

  it('a thin LU reports LBPME + LBPRZ, VPD B2h (LBPU, LBPWS, LBPWS10, LBPRZ, thin) and UNMAP limits in B0h', async () => {
    const { core } = await setup(64, { thin: true });
    expect(dataOf(await run(core, rc16()))[14]).toBe(0xc0);
    expect([...dataOf(await run(core, vpd(0x00))).subarray(4)]).toContain(0xb2);
    expect([...dataOf(await run(core, vpd(0xb2)))]).toEqual([0, 0xb2, 0, 4, 0, 0xe4, 0x02, 0]);
    const b0 = dataOf(await run(core, vpd(0xb0)));
    expect(b0[5]).toBe(255); // MAXIMUM COMPARE AND WRITE LENGTH
    expect(b0.readUInt32BE(20)).toBe(0x100000);
    expect(b0.readUInt32BE(24)).toBe(256);
    expect(b0.readUInt32BE(28)).toBe(8);
    expect(Number(b0.readBigUInt64BE(36))).toBe(0xffff);
  });

  it('a fully provisioned LU reports none of it', async () => {
    const { core } = await setup(64);
    expect(dataOf(await run(core, rc16()))[14]).toBe(0);
    expect([...dataOf(await run(core, vpd(0x00))).subarray(4)]).not.toContain(0xb2);
    expect(sense(await run(core, vpd(0xb2)))).toMatchObject({ asc: 0x24 });
    const b0 = dataOf(await run(core, vpd(0xb0)));
    expect(b0.readUInt32BE(20)).toBe(0);
    expect(b0.readUInt32BE(24)).toBe(0);
  });
});
