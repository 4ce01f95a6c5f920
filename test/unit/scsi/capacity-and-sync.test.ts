import { describe, expect, it } from 'vitest';
import { BlockError } from '../../../src/block/device.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { capacityOnlyDevice } from '../../helpers/mem-device.js';
import { cdb10, cdb16, dataOf, makeLu, makeNexus, run, sense, setup, TARGET } from './fixture.js';

function rc10(lba = 0, pmi = false): Buffer {
  const c = Buffer.alloc(10);
  c[0] = 0x25;
  c.writeUInt32BE(lba, 2);
  c[8] = pmi ? 1 : 0;
  return c;
}

function rc16(allocation = 32, lba = 0n, pmi = false): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x9e;
  c[1] = 0x10;
  c.writeBigUInt64BE(lba, 2);
  c.writeUInt32BE(allocation, 10);
  c[14] = pmi ? 1 : 0;
  return c;
}

async function bigCore(blocks: number, blockSize = 512): Promise<ScsiTargetCore> {
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [makeLu(capacityOnlyDevice(blocks, blockSize))] });
  core.addNexus(makeNexus());
  await run(core, [0, 0, 0, 0, 0, 0]);
  return core;
}

describe('READ CAPACITY(10)', () => {
  it('returns the last LBA and the block length', async () => {
    const { core } = await setup(2048, {}, 4096);
    const d = dataOf(await run(core, rc10()));
    expect(d.length).toBe(8);
    expect(d.readUInt32BE(0)).toBe(2047);
    expect(d.readUInt32BE(4)).toBe(4096);
  });

  it.each([
    [2 ** 32 - 1, 2 ** 32 - 2],
    [2 ** 32, 0xffffffff],
    [2 ** 32 + 1, 0xffffffff],
    [2 ** 40, 0xffffffff],
  ])('with %d blocks reports %d', async (blocks, expected) => {
    const core = await bigCore(blocks);
    expect(dataOf(await run(core, rc10())).readUInt32BE(0)).toBe(expected);
  });

  it('PMI = 0 with a non-zero LBA is INVALID FIELD IN CDB; PMI = 1 answers', async () => {
    const { core } = await setup();
    expect(sense(await run(core, rc10(5)))).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 2 } });
    expect(dataOf(await run(core, rc10(5, true))).readUInt32BE(0)).toBe(2047);
  });
});

describe('READ CAPACITY(16)', () => {
  it('returns the 64-bit last LBA, block length and zero protection / provisioning fields', async () => {
    const core = await bigCore(2 ** 40 + 7);
    const d = dataOf(await run(core, rc16()));
    expect(d.length).toBe(32);
    expect(d.readBigUInt64BE(0)).toBe(BigInt(2 ** 40 + 6));
    expect(d.readUInt32BE(8)).toBe(512);
    expect(d.subarray(12).every((x) => x === 0)).toBe(true); // P_TYPE/PROT_EN, LBPPBE, LBPME, ...
  });

  it('allocation lengths 0..15 are not errors and truncate', async () => {
    const { core } = await setup();
    for (let n = 0; n < 16; n++) {
      const r = await run(core, rc16(n));
      expect(r.status).toBe(ScsiStatus.GOOD);
      expect(dataOf(r).length).toBe(n);
    }
  });

  it('PMI = 0 with a non-zero LBA is refused', async () => {
    const { core } = await setup();
    expect(sense(await run(core, rc16(32, 1n)))?.asc).toBe(0x24);
    expect((await run(core, rc16(32, 1n, true))).status).toBe(ScsiStatus.GOOD);
  });

  it('another SERVICE ACTION IN(16) action is INVALID FIELD IN CDB on the service action', async () => {
    const { core } = await setup();
    const c = rc16();
    c[1] = 0x13; // REPORT REFERRALS: not supported
    expect(sense(await run(core, c))).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 1, bit: 4 } });
  });
});

describe('SYNCHRONIZE CACHE', () => {
  it('(10) and (16) flush the device', async () => {
    const { core, dev } = await setup(64);
    expect((await run(core, cdb10(0x35, 0, 0))).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, cdb16(0x91, 10, 54))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.filter((l) => l.op === 'flush').length).toBe(2);
  });

  it('check the range: beyond the end is LBA OUT OF RANGE and flushes nothing', async () => {
    const { core, dev } = await setup(64);
    expect(sense(await run(core, cdb10(0x35, 60, 5)))).toEqual({ key: 5, asc: 0x21, ascq: 0 });
    expect(sense(await run(core, cdb16(0x91, 65, 0)))).toEqual({ key: 5, asc: 0x21, ascq: 0 });
    expect((await run(core, cdb10(0x35, 64, 0))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.filter((l) => l.op === 'flush').length).toBe(1);
  });

  it('a failed flush is a MEDIUM ERROR / WRITE ERROR', async () => {
    const { core, dev } = await setup(64);
    dev.beforeIo = () => {
      throw new BlockError('IO_ERROR', 'injected');
    };
    expect(sense(await run(core, cdb10(0x35, 3, 0)))).toEqual({ key: 3, asc: 0x0c, ascq: 0, information: 3 });
  });
});
