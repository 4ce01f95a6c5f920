import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MAX_PENDING_UNIT_ATTENTIONS, UnitAttentionQueue } from '../../../src/scsi/unit-attention.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { dataOf, makeLu, makeNexus, run, sense, TARGET } from './fixture.js';

const TUR = [0x00, 0, 0, 0, 0, 0];
const POWER_ON_RESET = { key: 6, asc: 0x29, ascq: 0x00 };

function twoLuCore(): ScsiTargetCore {
  return new ScsiTargetCore({
    targetName: TARGET,
    luns: [makeLu(new MemDevice(64)), makeLu(new MemDevice(64), { lun: 1 })],
  });
}

describe('UnitAttentionQueue', () => {
  it('reports the highest priority first, oldest first within a priority', () => {
    const q = new UnitAttentionQueue();
    q.push({ asc: 0x2a, ascq: 0x01 }); // mode parameters changed
    q.push({ asc: 0x3f, ascq: 0x0e }); // reported LUNs data changed
    q.push({ asc: 0x29, ascq: 0x07 }); // I_T nexus loss
    q.push({ asc: 0x29, ascq: 0x03 }); // bus device reset
    const order = [q.take(), q.take(), q.take(), q.take(), q.take()];
    expect(order).toEqual([
      { asc: 0x29, ascq: 0x03 },
      { asc: 0x29, ascq: 0x07 },
      { asc: 0x2a, ascq: 0x01 },
      { asc: 0x3f, ascq: 0x0e },
      undefined,
    ]);
  });

  it('does not repeat a condition that is already pending', () => {
    const q = new UnitAttentionQueue();
    q.push({ asc: 0x29, ascq: 0 });
    q.push({ asc: 0x29, ascq: 0 });
    expect(q.size).toBe(1);
  });

  it('is bounded: the lowest priority, newest condition goes first', () => {
    const q = new UnitAttentionQueue();
    q.push({ asc: 0x29, ascq: 0x01 });
    for (let i = 0; i < MAX_PENDING_UNIT_ATTENTIONS + 5; i++) q.push({ asc: 0x3f, ascq: i });
    expect(q.size).toBe(MAX_PENDING_UNIT_ATTENTIONS);
    expect(q.take()).toEqual({ asc: 0x29, ascq: 0x01 });
    expect(q.take()).toEqual({ asc: 0x3f, ascq: 0 });
  });
});

describe('unit attentions in the core', () => {
  it('a new nexus gets POWER ON, RESET, OR BUS DEVICE RESET OCCURRED once per LU', async () => {
    const core = twoLuCore();
    const nexus = makeNexus();
    core.addNexus(nexus);
    for (const lun of [0, 1]) {
      const first = await run(core, TUR, { lun, nexus });
      expect(first.status).toBe(ScsiStatus.CHECK_CONDITION);
      expect(sense(first)).toEqual(POWER_ON_RESET);
      expect((await run(core, TUR, { lun, nexus })).status).toBe(ScsiStatus.GOOD);
    }
  });

  it('adding the same nexus twice does not establish it again', async () => {
    const core = twoLuCore();
    const nexus = makeNexus();
    core.addNexus(nexus);
    await run(core, TUR, { nexus });
    core.addNexus(nexus);
    expect((await run(core, TUR, { nexus })).status).toBe(ScsiStatus.GOOD);
  });

  it('is per nexus: another initiator still sees its own', async () => {
    const core = twoLuCore();
    const [a, b] = [makeNexus(1), makeNexus(2)];
    core.addNexus(a);
    core.addNexus(b);
    await run(core, TUR, { nexus: a });
    expect(sense(await run(core, TUR, { nexus: b }))).toEqual(POWER_ON_RESET);
  });

  it('a nexus the core never heard of is treated as new', async () => {
    const core = twoLuCore();
    expect(sense(await run(core, TUR, { nexus: makeNexus(7) }))).toEqual(POWER_ON_RESET);
  });

  it('INQUIRY and REPORT LUNS neither report nor clear it', async () => {
    const core = twoLuCore();
    const nexus = makeNexus();
    core.addNexus(nexus);
    expect((await run(core, [0x12, 0, 0, 0, 96, 0], { nexus })).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], { nexus })).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(core, TUR, { nexus }))).toEqual(POWER_ON_RESET);
  });

  it('REQUEST SENSE returns it as parameter data with GOOD status and clears it', async () => {
    const core = twoLuCore();
    const nexus = makeNexus();
    core.addNexus(nexus);
    const r = await run(core, [0x03, 0, 0, 0, 252, 0], { nexus });
    expect(r.status).toBe(ScsiStatus.GOOD);
    const d = dataOf(r);
    expect(d.length).toBe(18);
    expect([d[0], d[2], d[12], d[13]]).toEqual([0x70, 0x06, 0x29, 0x00]);
    expect((await run(core, TUR, { nexus })).status).toBe(ScsiStatus.GOOD);
    const none = dataOf(await run(core, [0x03, 0, 0, 0, 252, 0], { nexus }));
    expect([none[0], none[2], none[12], none[13]]).toEqual([0x70, 0x00, 0x00, 0x00]);
  });

  it('REQUEST SENSE with DESC = 1 answers in descriptor format, cut to the allocation length', async () => {
    const core = twoLuCore();
    const nexus = makeNexus();
    core.addNexus(nexus);
    expect([...dataOf(await run(core, [0x03, 1, 0, 0, 252, 0], { nexus }))]).toEqual([0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0]);
    expect(dataOf(await run(core, [0x03, 0, 0, 0, 4, 0], { lun: 1, nexus })).length).toBe(4);
  });

  it('is reported before the CDB is even decoded', async () => {
    const core = twoLuCore();
    const nexus = makeNexus();
    core.addNexus(nexus);
    expect(sense(await run(core, [0xff, 0, 0, 0, 0, 0], { nexus }))).toEqual(POWER_ON_RESET);
    expect(sense(await run(core, [0xff, 0, 0, 0, 0, 0], { nexus }))).toEqual({ key: 5, asc: 0x20, ascq: 0 });
  });

  it('follows D_SENSE', async () => {
    const core = twoLuCore();
    core.getLogicalUnit(0)!.descriptorSense = true;
    const r = await run(core, TUR);
    expect(r.sense?.[0]).toBe(0x72);
    expect(sense(r)).toEqual(POWER_ON_RESET);
  });
});
