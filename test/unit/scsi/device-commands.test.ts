import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, cdb16, dataOf, makeLu, makeNexus, run, sense, setup, TARGET } from './fixture.js';

const INVALID_FIELD = { key: SenseKey.ILLEGAL_REQUEST, asc: 0x24, ascq: 0 };

describe('PRE-FETCH(10/16)', () => {
  it('is GOOD within the capacity (IMMED or not) and does no I/O', async () => {
    const { core, dev } = await setup(64);
    expect((await run(core, cdb10(0x34, 0, 64))).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, cdb10(0x34, 10, 1, 0x02))).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, cdb16(0x90, 63, 1, 0x02))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log).toEqual([]);
  });

  it('refuses ranges beyond the end with LBA OUT OF RANGE', async () => {
    const { core } = await setup(64);
    expect(sense(await run(core, cdb10(0x34, 63, 2)))).toMatchObject({ asc: 0x21 });
    expect(sense(await run(core, cdb16(0x90, 2n ** 63n, 1)))).toMatchObject({ asc: 0x21 });
  });
});

describe('START STOP UNIT / PREVENT ALLOW MEDIUM REMOVAL', () => {
  const ssu = (byte4: number, byte1 = 0): number[] => [0x1b, byte1, 0, 0, byte4, 0];

  it('start is GOOD without I/O; a stop flushes the cache unless NO_FLUSH', async () => {
    const { core, dev } = await setup(64);
    expect((await run(core, ssu(0x01))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log).toEqual([]);
    expect((await run(core, ssu(0x00))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.map((r) => r.op)).toEqual(['flush']);
    expect((await run(core, ssu(0x04))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.length).toBe(1);
    // LOEJ on a non-removable medium changes nothing; TEST UNIT READY stays GOOD.
    expect((await run(core, ssu(0x02))).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, [0, 0, 0, 0, 0, 0])).status).toBe(ScsiStatus.GOOD);
  });

  it('accepts every POWER CONDITION without a flush or an eject', async () => {
    const { core, dev } = await setup(64, { removable: true });
    for (let pc = 1; pc < 16; pc++) expect((await run(core, ssu((pc << 4) | 0x02))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log).toEqual([]);
    expect((await run(core, [0, 0, 0, 0, 0, 0])).status).toBe(ScsiStatus.GOOD);
  });

  it('PREVENT ALLOW is GOOD for every PREVENT value', async () => {
    const { core } = await setup(64);
    for (const prevent of [0, 1, 2, 3]) expect((await run(core, [0x1e, 0, 0, 0, prevent, 0])).status).toBe(ScsiStatus.GOOD);
  });
});

describe('READ DEFECT DATA(10/12)', () => {
  it('(10) returns an empty list with the requested lists valid and the format echoed', async () => {
    const { core } = await setup(64);
    const d = dataOf(await run(core, [0x37, 0, 0x18 | 0x05, 0, 0, 0, 0, 0, 32, 0]));
    expect([...d]).toEqual([0, 0x1d, 0, 0]);
    expect(dataOf(await run(core, [0x37, 0, 0, 0, 0, 0, 0, 0, 2, 0])).length).toBe(2);
  });

  it('(12) returns the 8-byte header with a zero length', async () => {
    const { core } = await setup(64);
    const d = dataOf(await run(core, [0xb7, 0x08, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]));
    expect([...d]).toEqual([0, 0x08, 0, 0, 0, 0, 0, 0]);
  });
});

describe('REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS', () => {
  const cdb = (reptd: boolean, allocation: number): number[] => [0xa3, 0x0d, reptd ? 0x80 : 0, 0, 0, 0, 0, 0, 0, allocation, 0, 0];

  it('reports ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LUN RESET and TARGET RESET', async () => {
    const { core } = await setup(64);
    const d = dataOf(await run(core, cdb(false, 255)));
    expect([...d]).toEqual([0xda, 0, 0, 0]);
    const ext = dataOf(await run(core, cdb(true, 255)));
    expect(ext.length).toBe(16);
    expect(ext[0]).toBe(0xda);
    expect(ext[3]).toBe(0x0c);
  });
});

describe('LOG SENSE', () => {
  const cdb = (page: number, subpage = 0, sp = 0, allocation = 255): number[] => [0x4d, sp, 0x40 | page, subpage, 0, 0, 0, 0, allocation, 0];

  it('returns the supported pages list and the pages-and-subpages list', async () => {
    const { core } = await setup(64);
    expect([...dataOf(await run(core, cdb(0)))]).toEqual([0, 0, 0, 1, 0]);
    expect([...dataOf(await run(core, cdb(0, 0xff)))]).toEqual([0x40, 0xff, 0, 4, 0, 0, 0, 0xff]);
  });

  it('refuses unknown pages and SP', async () => {
    const { core } = await setup(64);
    expect(sense(await run(core, cdb(0x0d)))).toEqual({ ...INVALID_FIELD, fieldPointer: { cd: true, byte: 2, bit: 5 } });
    expect(sense(await run(core, cdb(0, 0, 1)))).toEqual({ ...INVALID_FIELD, fieldPointer: { cd: true, byte: 1, bit: 0 } });
  });
});

describe('REPORT LUNS select reports', () => {
  const cdb = (select: number): number[] => [0xa0, 0, select, 0, 0, 0, 0, 0, 1, 0, 0, 0];

  it('00h/02h list every LU; 01h, 10h, 11h and 12h are empty (no well-known or administrative LUs)', async () => {
    const luns = [0, 3].map((lun) => makeLu(new MemDevice(8), { lun }));
    const core = new ScsiTargetCore({ targetName: TARGET, luns });
    core.addNexus(makeNexus());
    for (const select of [0x00, 0x02]) expect(dataOf(await run(core, cdb(select))).readUInt32BE(0)).toBe(16);
    for (const select of [0x01, 0x10, 0x11, 0x12]) expect([...dataOf(await run(core, cdb(select)))]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(sense(await run(core, cdb(0x03)))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 2 } });
  });
});
