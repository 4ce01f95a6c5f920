import { describe, expect, it } from 'vitest';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { capacityOnlyDevice } from '../../helpers/mem-device.js';
import { dataOf, makeLu, makeNexus, run, sense, setup, TARGET } from './fixture.js';

type Pc = 0 | 1 | 2 | 3;

function ms6(page: number, { pc = 0 as Pc, dbd = false, subpage = 0, allocation = 255 } = {}): number[] {
  return [0x1a, dbd ? 0x08 : 0, (pc << 6) | page, subpage, allocation, 0];
}

function ms10(page: number, { pc = 0 as Pc, dbd = false, llbaa = false, subpage = 0, allocation = 1024 } = {}): number[] {
  return [0x5a, (dbd ? 0x08 : 0) | (llbaa ? 0x10 : 0), (pc << 6) | page, subpage, 0, 0, 0, allocation >> 8, allocation & 0xff, 0];
}

const CACHING_WCE = [0x08, 0x12, 0x04, ...new Array<number>(17).fill(0)];
const CACHING_NO_WCE = [0x08, 0x12, ...new Array<number>(18).fill(0)];
const CONTROL = [0x0a, 0x0a, 0x00, 0x10, 0x00, 0x40, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00];

describe('MODE SENSE(6)', () => {
  it('all pages: header, short block descriptor, caching then control page', async () => {
    const { core } = await setup(2048);
    const d = dataOf(await run(core, ms6(0x3f)));
    const blockDescriptor = [0, 0, 0x08, 0x00, 0, 0, 0x02, 0x00]; // 2048 blocks of 512 bytes
    expect([...d]).toEqual([4 + 8 + 20 + 12 - 1, 0x00, 0x10, 8, ...blockDescriptor, ...CACHING_WCE, ...CONTROL]);
  });

  it('DBD drops the block descriptor', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, ms6(0x08, { dbd: true })));
    expect([...d]).toEqual([3 + 20, 0, 0x10, 0, ...CACHING_WCE]);
  });

  it('reflects WCE = 0 and a read-only LU (WP)', async () => {
    const { core } = await setup(64, { writeCacheEnabled: false, readOnly: true });
    const d = dataOf(await run(core, ms6(0x08, { dbd: true })));
    expect(d[2]).toBe(0x90); // WP | DPOFUA
    expect([...d.subarray(4)]).toEqual(CACHING_NO_WCE);
  });

  it('reflects D_SENSE in the control page', async () => {
    const { core, lu } = await setup();
    lu.descriptorSense = true;
    const d = dataOf(await run(core, ms6(0x0a, { dbd: true })));
    expect(d[4 + 2]).toBe(0x04);
  });

  it('changeable values: WCE, D_SENSE and SWP only (MODE SELECT)', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, ms6(0x3f, { pc: 1 })));
    expect([...d.subarray(4, 12)]).toEqual(new Array<number>(8).fill(0));
    expect([...d.subarray(12, 32)]).toEqual(CACHING_WCE);
    expect([...d.subarray(32)]).toEqual([0x0a, 0x0a, 0x04, 0x00, 0x08, ...new Array<number>(7).fill(0)]);
  });

  it('default values: the configured WCE and D_SENSE off', async () => {
    const { core, lu } = await setup(64, { writeCacheEnabled: true });
    lu.writeCacheEnabled = false;
    lu.descriptorSense = true;
    const d = dataOf(await run(core, ms6(0x3f, { pc: 2, dbd: true })));
    expect([...d.subarray(4)]).toEqual([...CACHING_WCE, ...CONTROL]);
  });

  it('saved values: SAVING PARAMETERS NOT SUPPORTED', async () => {
    const { core } = await setup();
    expect(sense(await run(core, ms6(0x08, { pc: 3 })))).toMatchObject({ key: 5, asc: 0x39, ascq: 0 });
  });

  it('an unknown page or subpage is INVALID FIELD IN CDB pointing at it', async () => {
    const { core } = await setup();
    expect(sense(await run(core, ms6(0x1c)))).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 2, bit: 5 } });
    expect(sense(await run(core, ms6(0x08, { subpage: 1 })))?.fieldPointer).toEqual({ cd: true, byte: 3 });
    expect(sense(await run(core, ms6(0x3f, { subpage: 1 })))?.fieldPointer).toEqual({ cd: true, byte: 3 });
  });

  it('all pages and subpages (3Fh/FFh) is the same as all pages', async () => {
    const { core } = await setup();
    const a = dataOf(await run(core, ms6(0x3f)));
    const b = dataOf(await run(core, ms6(0x3f, { subpage: 0xff })));
    expect(b.equals(a)).toBe(true);
  });

  it('is cut to the allocation length without changing the MODE DATA LENGTH', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, ms6(0x3f, { allocation: 4 })));
    expect([...d]).toEqual([43, 0, 0x10, 8]);
    expect(dataOf(await run(core, ms6(0x3f, { allocation: 0 }))).length).toBe(0);
  });

  it('saturates the block count of the short descriptor', async () => {
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [makeLu(capacityOnlyDevice(2 ** 33))] });
    core.addNexus(makeNexus());
    await run(core, [0, 0, 0, 0, 0, 0]);
    const d = dataOf(await run(core, ms6(0x08)));
    expect(d.readUInt32BE(4)).toBe(0xffffffff);
  });
});

describe('MODE SENSE(10)', () => {
  it('has an 8-byte header with 2-byte lengths', async () => {
    const { core } = await setup(2048);
    const d = dataOf(await run(core, ms10(0x0a)));
    expect([...d.subarray(0, 8)]).toEqual([0, 8 + 8 + 12 - 2, 0, 0x10, 0, 0, 0, 8]);
    expect([...d.subarray(16)]).toEqual(CONTROL);
  });

  it('LLBAA gives the 16-byte long LBA descriptor and sets LONGLBA', async () => {
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [makeLu(capacityOnlyDevice(2 ** 33, 4096))] });
    core.addNexus(makeNexus());
    await run(core, [0, 0, 0, 0, 0, 0]);
    const d = dataOf(await run(core, ms10(0x08, { llbaa: true })));
    expect(d[4]).toBe(0x01);
    expect(d.readUInt16BE(6)).toBe(16);
    expect(d.readBigUInt64BE(8)).toBe(2n ** 33n);
    expect(d.readUInt32BE(20)).toBe(4096);
    expect(d.readUInt16BE(0)).toBe(8 + 16 + 20 - 2);
  });

  it('DBD wins over LLBAA', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, ms10(0x08, { llbaa: true, dbd: true })));
    expect(d[4]).toBe(0);
    expect(d.readUInt16BE(6)).toBe(0);
    expect(d.length).toBe(8 + 20);
  });
});
