import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { cdb10, dataOf, makeNexus, run, sense, setup } from './fixture.js';

const TUR = [0, 0, 0, 0, 0, 0];
const EJECT = [0x1b, 0, 0, 0, 0x02, 0];
const LOAD = [0x1b, 0, 0, 0, 0x03, 0];
const prevent = (on: boolean): number[] => [0x1e, 0, 0, 0, on ? 1 : 0, 0];
const NO_MEDIUM = { key: SenseKey.NOT_READY, asc: 0x3a, ascq: 0 };
const PREVENTED = { key: SenseKey.ILLEGAL_REQUEST, asc: 0x53, ascq: 0x02 };

describe('removable medium', () => {
  it('INQUIRY reports RMB only for a removable LU', async () => {
    expect(dataOf(await run((await setup(64, { removable: true })).core, [0x12, 0, 0, 0, 96, 0]))[1]).toBe(0x80);
    expect(dataOf(await run((await setup(64)).core, [0x12, 0, 0, 0, 96, 0]))[1]).toBe(0);
  });

  it('LOEJ ejects: medium access is NOT READY / MEDIUM NOT PRESENT, INQUIRY still works; a load brings it back', async () => {
    const { core } = await setup(64, { removable: true });
    expect((await run(core, EJECT)).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(core, TUR))).toEqual(NO_MEDIUM);
    expect(sense(await run(core, cdb10(0x28, 0, 1)))).toEqual(NO_MEDIUM);
    expect(sense(await run(core, cdb10(0x2f, 0, 1)))).toEqual(NO_MEDIUM);
    expect((await run(core, [0x12, 0, 0, 0, 96, 0])).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, LOAD)).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, TUR)).status).toBe(ScsiStatus.GOOD);
  });

  it('PREVENT from any nexus blocks eject and load until that nexus allows again', async () => {
    const { core, nexus } = await setup(64, { removable: true });
    const other = makeNexus(2);
    core.addNexus(other);
    await run(core, TUR, { nexus: other });
    expect((await run(core, prevent(true), { nexus })).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(core, EJECT, { nexus: other }))).toEqual(PREVENTED);
    expect(sense(await run(core, LOAD, { nexus }))).toEqual(PREVENTED);
    await run(core, prevent(false), { nexus: other }); // another nexus cannot lift it
    expect(sense(await run(core, EJECT, { nexus }))).toEqual(PREVENTED);
    await run(core, prevent(false), { nexus });
    expect((await run(core, EJECT, { nexus: other })).status).toBe(ScsiStatus.GOOD);
  });

  it('the nexus going away and a LUN reset end the prevention', async () => {
    const a = await setup(64, { removable: true });
    await run(a.core, prevent(true));
    a.core.removeNexus(a.nexus);
    const b = makeNexus(3);
    a.core.addNexus(b);
    await run(a.core, TUR, { nexus: b });
    expect((await run(a.core, EJECT, { nexus: b })).status).toBe(ScsiStatus.GOOD);

    const c = await setup(64, { removable: true });
    await run(c.core, prevent(true));
    await c.core.lunReset(c.nexus, 0);
    await run(c.core, TUR); // the reset's unit attention
    expect((await run(c.core, EJECT)).status).toBe(ScsiStatus.GOOD);
  });

  it('a fixed medium ignores LOEJ and PREVENT', async () => {
    const { core } = await setup(64);
    await run(core, prevent(true));
    expect((await run(core, EJECT)).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, TUR)).status).toBe(ScsiStatus.GOOD);
  });

  it('refuses the obsolete PREVENT values on a removable medium', async () => {
    const { core } = await setup(64, { removable: true });
    expect(sense(await run(core, [0x1e, 0, 0, 0, 2, 0]))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 4, bit: 1 } });
  });
});
