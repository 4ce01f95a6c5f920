import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { cdb10, dataOf, makeNexus, run, sense, setup } from './fixture.js';

const CONTROL = [0x0a, 0x0a, 0x00, 0x10, 0x00, 0x40, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00];
const caching = (wce: boolean): number[] => [0x08, 0x12, wce ? 0x04 : 0, ...new Array<number>(17).fill(0)];
const control = (dsense: boolean, swp: boolean): number[] => {
  const p = [...CONTROL];
  if (dsense) p[2] = 0x04;
  if (swp) p[4] = 0x08;
  return p;
};

function select6(list: number[], byte1 = 0x10): { cdb: number[]; data: Buffer } {
  return { cdb: [0x15, byte1, 0, 0, list.length, 0], data: Buffer.from(list) };
}

function select10(list: number[]): { cdb: number[]; data: Buffer } {
  return { cdb: [0x55, 0x10, 0, 0, 0, 0, 0, list.length >> 8, list.length & 0xff, 0], data: Buffer.from(list) };
}

const HEADER6 = [0, 0, 0, 0];
const PARAM_LIST = (byte: number, bit?: number): object => ({
  key: SenseKey.ILLEGAL_REQUEST,
  asc: 0x26,
  ascq: 0,
  fieldPointer: bit === undefined ? { cd: false, byte } : { cd: false, byte, bit },
});

describe('MODE SELECT', () => {
  it('caching page WCE = 0 turns the backstore write cache off and makes writes FUA', async () => {
    const calls: boolean[] = [];
    const { core, lu, dev } = await setup(64, { setWriteCache: (on) => calls.push(on) });
    const s = select6([...HEADER6, ...caching(false)]);
    expect((await run(core, s.cdb, { data: s.data })).status).toBe(ScsiStatus.GOOD);
    expect(lu.writeCacheEnabled).toBe(false);
    expect(calls).toEqual([false]);
    await run(core, cdb10(0x2a, 0, 1), { data: Buffer.alloc(512) });
    expect(dev.log.at(-1)).toMatchObject({ op: 'write', fua: true });
    const ms = dataOf(await run(core, [0x1a, 0x08, 0x08, 0, 255, 0]));
    expect(ms[4 + 2]).toBe(0);
  });

  it('MODE PARAMETERS CHANGED goes to every other nexus, not to the one that changed them', async () => {
    const { core, nexus } = await setup(64);
    const other = makeNexus(2);
    core.addNexus(other);
    await run(core, [0, 0, 0, 0, 0, 0], { nexus: other }); // consume its power-on UA
    const s = select10([0, 0, 0, 0, 0, 0, 0, 0, ...control(true, false)]);
    expect((await run(core, s.cdb, { data: s.data, nexus })).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, [0, 0, 0, 0, 0, 0], { nexus })).status).toBe(ScsiStatus.GOOD);
    const r = await run(core, [0, 0, 0, 0, 0, 0], { nexus: other });
    expect(sense(r)).toEqual({ key: SenseKey.UNIT_ATTENTION, asc: 0x2a, ascq: 0x01 });
    // D_SENSE is now on: the sense came back in descriptor format.
    expect(r.sense?.[0]).toBe(0x72);
  });

  it('restating the current values changes nothing and raises no unit attention', async () => {
    const { core } = await setup(64);
    const other = makeNexus(2);
    core.addNexus(other);
    await run(core, [0, 0, 0, 0, 0, 0], { nexus: other });
    const s = select6([...HEADER6, ...caching(true), ...control(false, false)]);
    expect((await run(core, s.cdb, { data: s.data })).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, [0, 0, 0, 0, 0, 0], { nexus: other })).status).toBe(ScsiStatus.GOOD);
  });

  it('SWP write-protects the LU (WP in MODE SENSE) until cleared, and a LUN reset clears it', async () => {
    const { core, lu } = await setup(64);
    const on = select6([...HEADER6, ...control(false, true)]);
    expect((await run(core, on.cdb, { data: on.data })).status).toBe(ScsiStatus.GOOD);
    const w = await run(core, cdb10(0x2a, 0, 1), { data: Buffer.alloc(512) });
    expect(sense(w)).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27 });
    expect(dataOf(await run(core, [0x1a, 0x08, 0x0a, 0, 255, 0]))[2]! & 0x80).toBe(0x80);
    expect(dataOf(await run(core, [0x1a, 0x08, 0x0a, 0, 255, 0]))[4 + 4]).toBe(0x08);
    const off = select6([...HEADER6, ...control(false, false)]);
    await run(core, off.cdb, { data: off.data });
    expect((await run(core, cdb10(0x2a, 0, 1), { data: Buffer.alloc(512) })).status).toBe(ScsiStatus.GOOD);
    lu.softwareWriteProtect = true;
    lu.resetModeParameters();
    expect(lu.readOnly).toBe(false);
  });

  it('accepts a block descriptor that restates the block length', async () => {
    const { core } = await setup(64);
    const s = select6([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x02, 0x00, ...caching(true)]);
    expect((await run(core, s.cdb, { data: s.data })).status).toBe(ScsiStatus.GOOD);
    const bad = select6([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x10, 0x00]);
    expect(sense(await run(core, bad.cdb, { data: bad.data }))).toEqual(PARAM_LIST(9));
  });

  it('refuses a change of a field that is not changeable, pointing at its byte', async () => {
    const { core, lu } = await setup(64);
    const page = control(true, false);
    page[3] = 0x00; // QUEUE ALGORITHM MODIFIER is fixed
    const s = select6([...HEADER6, ...page]);
    expect(sense(await run(core, s.cdb, { data: s.data }))).toEqual(PARAM_LIST(4 + 3));
    expect(lu.descriptorSense).toBe(false); // nothing of a refused list is applied
  });

  it('refuses unknown pages, wrong page lengths, subpages and short lists', async () => {
    const { core } = await setup(64);
    const unknown = select6([...HEADER6, 0x1c, 0x0a, ...new Array<number>(10).fill(0)]);
    expect(sense(await run(core, unknown.cdb, { data: unknown.data }))).toEqual(PARAM_LIST(4, 5));
    const length = select6([...HEADER6, 0x08, 0x10, ...new Array<number>(16).fill(0)]);
    expect(sense(await run(core, length.cdb, { data: length.data }))).toEqual(PARAM_LIST(5));
    const sub = select6([...HEADER6, 0x48, 0x01, 0, 0x10]);
    expect(sense(await run(core, sub.cdb, { data: sub.data }))).toEqual(PARAM_LIST(4, 6));
    const short = select6([...HEADER6, ...caching(true).slice(0, 10)]);
    expect(sense(await run(core, short.cdb, { data: short.data }))).toEqual({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x1a, ascq: 0 });
  });

  it('refuses SP (nothing is saveable); an empty parameter list is GOOD', async () => {
    const { core } = await setup(64);
    const s = select6([...HEADER6, ...caching(true)], 0x11);
    expect(sense(await run(core, s.cdb, { data: s.data }))).toMatchObject({ asc: 0x24, fieldPointer: { cd: true, byte: 1, bit: 0 } });
    expect((await run(core, [0x15, 0x10, 0, 0, 0, 0])).status).toBe(ScsiStatus.GOOD);
  });
});
