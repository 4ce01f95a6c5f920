/** Physical block geometry and device discard limits as READ CAPACITY(16), VPD B0h / B2h, UNMAP and WRITE SAME see them. */
import { describe, expect, it } from 'vitest';
import type { DiscardLimits } from '../../../src/block/backstore.js';
import type { BlockDevice } from '../../../src/block/device.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import type { LogicalUnitConfig } from '../../../src/scsi/logical-unit.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, cdb16, dataOf, makeLu, makeNexus, run, sense, TARGET } from './fixture.js';

interface Geometry {
  physicalBlockSize?: number;
  lowestAlignedLba?: number;
  minIoSize?: number;
  discardLimits?: DiscardLimits;
}

/** A MemDevice seen through the BlockDevice interface with the given geometry; like a block LUN, optionally no allocation map. */
function device(mem: MemDevice, geometry: Geometry, allocationMap = true): BlockDevice {
  return {
    size: mem.size,
    blockSize: mem.blockSize,
    readOnly: false,
    read: (offset, length) => mem.read(offset, length),
    write: (offset, data, opts) => mem.write(offset, data, opts),
    flush: () => mem.flush(),
    discard: (ranges) => mem.discard(ranges),
    ...(allocationMap ? { allocationRun: (offset: number) => mem.allocationRun(offset) } : {}),
    close: async () => {},
    ...geometry,
  };
}

async function setupWith(geometry: Geometry, over: Partial<LogicalUnitConfig> = {}, blockSize = 512, allocationMap = true) {
  const mem = new MemDevice(4096, blockSize);
  const lu = makeLu(device(mem, geometry, allocationMap), over);
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
  const nexus = makeNexus();
  core.addNexus(nexus);
  await run(core, [0x00, 0, 0, 0, 0, 0], { nexus }); // consume the power-on unit attention
  return { core, mem, lu };
}

const rc16 = (): Buffer => {
  const c = cdb16(0x9e, 0, 32);
  c[1] = 0x10;
  return c;
};
const vpd = (page: number): number[] => [0x12, 0x01, page, 0, 255, 0];
const gls = (lba: number): Buffer => {
  const c = cdb16(0x9e, lba, 1024);
  c[1] = 0x12;
  return c;
};
function unmapList(lba: number, blocks: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt16BE(22, 0);
  b.writeUInt16BE(16, 2);
  b.writeBigUInt64BE(BigInt(lba), 8);
  b.writeUInt32BE(blocks, 16);
  return b;
}

describe('physical block geometry', () => {
  it('default: one logical block per physical block, aligned at 0, granularity a 4 KiB page', async () => {
    const { core } = await setupWith({});
    const rc = dataOf(await run(core, rc16()));
    expect(rc[13]).toBe(0);
    expect(rc.readUInt16BE(14)).toBe(0);
    expect(dataOf(await run(core, vpd(0xb0))).readUInt16BE(6)).toBe(8);
  });

  it.each([
    [512, 4096, 3, 8],
    [512, 16384, 5, 32],
    [4096, 4096, 0, 1],
    [4096, 65536, 4, 16],
  ])('%i-byte logical, %i-byte physical: LBPPBE %i, OPTIMAL TRANSFER LENGTH GRANULARITY %i', async (bs, pbs, exponent, otlg) => {
    const { core, lu } = await setupWith({ physicalBlockSize: pbs }, {}, bs);
    expect(lu.physicalBlockSize).toBe(pbs);
    const rc = dataOf(await run(core, rc16()));
    expect(rc.readUInt32BE(8)).toBe(bs);
    expect(rc[13]).toBe(exponent);
    expect(dataOf(await run(core, vpd(0xb0))).readUInt16BE(6)).toBe(otlg);
  });

  it('LOWEST ALIGNED LBA shares bytes 14-15 with LBPME / LBPRZ', async () => {
    const { core } = await setupWith({ physicalBlockSize: 4096, lowestAlignedLba: 7 }, { thin: true });
    const rc = dataOf(await run(core, rc16()));
    expect(rc[13]).toBe(3);
    expect(rc.readUInt16BE(14)).toBe(0xc007);
  });

  it("a device's minimum I/O size drives the granularity (never below a physical block)", async () => {
    expect(dataOf(await run((await setupWith({ minIoSize: 65536 })).core, vpd(0xb0))).readUInt16BE(6)).toBe(128);
    expect(dataOf(await run((await setupWith({ minIoSize: 512, physicalBlockSize: 4096 })).core, vpd(0xb0))).readUInt16BE(6)).toBe(8);
    expect(dataOf(await run((await setupWith({ minIoSize: 512 })).core, vpd(0xb0))).readUInt16BE(6)).toBe(1);
  });

  it('refuses a physical block size that is not a power-of-two multiple, and an alignment beyond one physical block', () => {
    expect(() => makeLu(device(new MemDevice(8), { physicalBlockSize: 1536 }))).toThrow(RangeError);
    expect(() => makeLu(device(new MemDevice(8), { physicalBlockSize: 256 }))).toThrow(RangeError);
    expect(() => makeLu(device(new MemDevice(8), { physicalBlockSize: 4096, lowestAlignedLba: 8 }))).toThrow(RangeError);
  });
});

describe('device discard limits', () => {
  const limits: DiscardLimits = { maxBytes: 1024 * 1024, granularity: 256 * 1024, alignment: 65536, zeroes: true };

  it('drive OPTIMAL UNMAP GRANULARITY, UNMAP GRANULARITY ALIGNMENT and MAXIMUM UNMAP LBA COUNT', async () => {
    const { core } = await setupWith({ discardLimits: limits }, { thin: true });
    const b0 = dataOf(await run(core, vpd(0xb0)));
    expect(b0.readUInt32BE(20)).toBe(2048); // 1 MiB of 512-byte blocks
    expect(b0.readUInt32BE(28)).toBe(512); // 256 KiB
    expect(b0.readUInt32BE(32)).toBe((0x80000000 | 128) >>> 0); // UGAVALID, 64 KiB
  });

  it('UNMAP beyond the device limit is refused, at the limit it deallocates', async () => {
    const { core, mem } = await setupWith({ discardLimits: limits }, { thin: true });
    const tooMany = await run(core, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { data: unmapList(0, 2049) });
    expect(tooMany.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(sense(tooMany)).toMatchObject({ key: 0x05, asc: 0x26 });
    mem.buffer.fill(1);
    const ok = await run(core, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { data: unmapList(0, 2048) });
    expect(ok.status).toBe(ScsiStatus.GOOD);
    expect(mem.unmapped.size).toBe(2048);
  });

  it('a device whose discard does not zero: no LBPRZ anywhere, and WRITE SAME with UNMAP writes the data', async () => {
    const { core, mem, lu } = await setupWith({ discardLimits: { ...limits, zeroes: false } }, { thin: true });
    expect(lu.lbprz).toBe(false);
    expect(dataOf(await run(core, rc16())).readUInt16BE(14)).toBe(0x8000);
    expect([...dataOf(await run(core, vpd(0xb2)))]).toEqual([0, 0xb2, 0, 4, 0, 0xe0, 0x02, 0]);
    const r = await run(core, cdb16(0x93, 10, 4, 0x08), { data: Buffer.alloc(512, 0xa6) });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(mem.buffer.subarray(10 * 512, 14 * 512).every((b) => b === 0xa6)).toBe(true);
    expect(mem.log.some((io) => io.op === 'discard')).toBe(false);
    // UNMAP itself still deallocates.
    expect((await run(core, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { data: unmapList(10, 4) })).status).toBe(ScsiStatus.GOOD);
    expect(mem.log.filter((io) => io.op === 'discard')).toHaveLength(1);
  });

  it('a device whose discard zeroes keeps LBPRZ: WRITE SAME with UNMAP deallocates', async () => {
    const { core, mem } = await setupWith({ discardLimits: limits }, { thin: true });
    expect(dataOf(await run(core, rc16())).readUInt16BE(14)).toBe(0xc000);
    expect(dataOf(await run(core, vpd(0xb2)))[5]).toBe(0xe4);
    expect((await run(core, cdb10(0x41, 10, 4, 0x08), { data: Buffer.alloc(512) })).status).toBe(ScsiStatus.GOOD);
    expect(mem.log.filter((io) => io.op === 'discard')).toHaveLength(1);
  });
});

describe('GET LBA STATUS without an allocation map (block LUNs)', () => {
  it('reports everything "mapped or unknown" (0h), never deallocated, even right after UNMAP', async () => {
    const { core } = await setupWith({ discardLimits: { maxBytes: 1 << 30, granularity: 4096, alignment: 0, zeroes: true } }, { thin: true }, 512, false);
    expect((await run(core, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { data: unmapList(16, 64) })).status).toBe(ScsiStatus.GOOD);
    for (const lba of [0, 16, 40]) {
      const d = dataOf(await run(core, gls(lba)));
      expect(d.readUInt32BE(0)).toBe(20); // one descriptor
      expect(Number(d.readBigUInt64BE(8))).toBe(lba);
      expect(d.readUInt32BE(16)).toBe(4096 - lba);
      expect(d[20]).toBe(0);
    }
  });
});
