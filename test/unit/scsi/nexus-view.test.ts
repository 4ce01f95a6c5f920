/** LUN masking and mapping per I_T nexus (ScsiTargetCore.setNexusView), as a node ACL's LUN map. */
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../../src/block/cancel.js';
import { ScsiStatus, type Nexus } from '../../../src/scsi/command.js';
import { ScsiTargetCore, type LunMapping } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, dataOf, gate, makeCommand, makeLu, makeNexus, run, send, sense, settle, TARGET } from './fixture.js';

const TUR = [0x00, 0, 0, 0, 0, 0];
const REPORT_LUNS = [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
const INQUIRY = [0x12, 0, 0, 0, 96, 0];
const MODE_SENSE_6 = [0x1a, 0, 0x3f, 0, 255, 0];
const UNMAP = [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0];
const NOT_SUPPORTED = { key: 5, asc: 0x25, ascq: 0x00 };
const WRITE_PROTECTED = { key: 7, asc: 0x27, ascq: 0x00 };
const LUNS_CHANGED = { key: 6, asc: 0x3f, ascq: 0x0e };

function view(entries: [number, number, boolean?][]): Map<number, LunMapping> {
  return new Map(entries.map(([as, lun, readOnly]) => [as, { lun, readOnly: readOnly ?? false }]));
}

function reportedLuns(data: Buffer): number[] {
  const out: number[] = [];
  for (let i = 8; i + 8 <= 8 + data.readUInt32BE(0); i += 8) out.push(data.readUInt16BE(i) & 0x3fff);
  return out;
}

/** LUs 0, 1, 2 over memory; nexus `masked` sees LU 2 as its LUN 0 and LU 1 (read-only) as its LUN 5; `open` has no view. */
async function world(maskedAbortHook?: (lun: number | undefined) => Promise<void>) {
  const devs = [new MemDevice(64), new MemDevice(64), new MemDevice(64)];
  const core = new ScsiTargetCore({ targetName: TARGET, luns: devs.map((d, lun) => makeLu(d, { lun })) });
  const masked = makeNexus(1);
  const open = makeNexus(2);
  core.setNexusView(masked, view([[0, 2], [5, 1, true]]));
  core.addNexus(masked, maskedAbortHook);
  core.addNexus(open);
  for (const lun of [0, 5]) await run(core, TUR, { nexus: masked, lun });
  for (const lun of [0, 1, 2]) await run(core, TUR, { nexus: open, lun });
  return { core, devs, masked, open };
}

async function expectGood(core: ScsiTargetCore, nexus: Nexus, lun: number): Promise<void> {
  expect((await run(core, TUR, { nexus, lun })).status).toBe(ScsiStatus.GOOD);
}

describe('a nexus with a LUN view', () => {
  it('REPORT LUNS lists only its own LUN numbers; a nexus without a view still sees every LU', async () => {
    const { core, masked, open } = await world();
    expect(reportedLuns(dataOf(await run(core, REPORT_LUNS, { nexus: masked })))).toEqual([0, 5]);
    expect(core.lunNumbersFor(masked)).toEqual([0, 5]);
    expect(reportedLuns(dataOf(await run(core, REPORT_LUNS, { nexus: open })))).toEqual([0, 1, 2]);
  });

  it('reads and writes through a mapped LUN reach the LU it maps to', async () => {
    const { core, devs, masked } = await world();
    const block = Buffer.alloc(512, 0xab);
    expect((await run(core, cdb10(0x2a, 3, 1), { nexus: masked, lun: 0, data: block })).status).toBe(ScsiStatus.GOOD);
    expect(devs[2]!.buffer.subarray(3 * 512, 4 * 512)).toEqual(block);
    expect(devs[0]!.buffer.subarray(3 * 512, 4 * 512).every((b) => b === 0)).toBe(true);
    expect(dataOf(await run(core, cdb10(0x28, 3, 1), { nexus: masked, lun: 0 }))).toEqual(block);
  });

  it('an unmapped LUN (even one that exists in the target) is LOGICAL UNIT NOT SUPPORTED; INQUIRY answers peripheral qualifier 3', async () => {
    const { core, masked } = await world();
    expect(sense(await run(core, TUR, { nexus: masked, lun: 1 }))).toMatchObject(NOT_SUPPORTED);
    expect(sense(await run(core, cdb10(0x28, 0, 1), { nexus: masked, lun: 2 }))).toMatchObject(NOT_SUPPORTED);
    const inquiry = dataOf(await run(core, INQUIRY, { nexus: masked, lun: 1 }));
    expect(inquiry[0]! >> 5).toBe(3);
    expect(dataOf(await run(core, INQUIRY, { nexus: masked, lun: 5 }))[0]! >> 5).toBe(0);
  });

  it('a read-only mapping refuses writes with DATA PROTECT, WRITE PROTECTED and shows WP in MODE SENSE; other nexuses still write', async () => {
    const { core, devs, masked, open } = await world();
    const block = Buffer.alloc(512, 0x5a);
    expect(sense(await run(core, cdb10(0x2a, 0, 1), { nexus: masked, lun: 5, data: block }))).toMatchObject(WRITE_PROTECTED);
    expect(sense(await run(core, UNMAP, { nexus: masked, lun: 5, data: Buffer.alloc(24) }))).toMatchObject(WRITE_PROTECTED);
    expect(devs[1]!.buffer.every((b) => b === 0)).toBe(true);
    expect((await run(core, cdb10(0x28, 0, 1), { nexus: masked, lun: 5 })).status).toBe(ScsiStatus.GOOD);
    expect(dataOf(await run(core, MODE_SENSE_6, { nexus: masked, lun: 5 }))[2]! & 0x80).toBe(0x80);
    expect(dataOf(await run(core, MODE_SENSE_6, { nexus: masked, lun: 0 }))[2]! & 0x80).toBe(0);
    expect(dataOf(await run(core, MODE_SENSE_6, { nexus: open, lun: 1 }))[2]! & 0x80).toBe(0);
    expect((await run(core, cdb10(0x2a, 0, 1), { nexus: open, lun: 1, data: block })).status).toBe(ScsiStatus.GOOD);
    expect(devs[1]!.buffer.subarray(0, 512)).toEqual(block);
  });

  it('TMFs take the LUN the nexus uses: LUN RESET and ABORT TASK SET of its LUN 0 reach LU 2; its LUN 1 is no LUN', async () => {
    const hooked: (number | undefined)[] = [];
    const { core, devs, masked, open } = await world((lun) => {
      hooked.push(lun);
      return Promise.resolve();
    });
    const g = gate();
    devs[2]!.beforeIo = () => g.promise;
    const held = send(core, cdb10(0x28, 0, 1), { nexus: masked, lun: 0 });
    await settle();
    expect(await core.lunReset(masked, 1)).toBe('noLun');
    expect(core.abortTaskSet(masked, 1)).toBe('noLun');
    expect(await core.clearTaskSet(masked, 2)).toBe('noLun');
    expect(hooked).toEqual([]);
    // Another nexus resets LU 2: the transport's abort hook of `masked` hears its own number for it, 0.
    const reset = core.lunReset(open, 2);
    g.open();
    expect(await reset).toBe('complete');
    expect(hooked).toEqual([0]);
    expect((await held.response).status).toBe(ScsiStatus.TASK_ABORTED);
    // A reset of an LU it cannot address does not reach its transport at all.
    await core.lunReset(open, 0);
    expect(hooked).toEqual([0]);
    await run(core, TUR, { nexus: masked, lun: 0 }); // the reset's unit attention
    // ABORT TASK SET through the mapped number aborts the nexus's task on LU 2.
    const g2 = gate();
    devs[2]!.beforeIo = () => g2.promise;
    const stuck = send(core, cdb10(0x28, 0, 1), { nexus: masked, lun: 0, signal: new Cancellation().signal });
    await settle();
    expect(core.abortTaskSet(masked, 0)).toBe('complete');
    g2.open();
    expect((await stuck.response).status).toBe(ScsiStatus.TASK_ABORTED);
  });

  it('ABORT TASK finds a task by the nexus LUN, not the LU number', async () => {
    const { core, devs, masked } = await world();
    const g = gate();
    devs[2]!.beforeIo = () => g.promise;
    const cmd = makeCommand(cdb10(0x28, 0, 1), { nexus: masked, lun: 0, tag: 4242 });
    expect(core.prepare(cmd).kind).toBe('execute');
    const response = core.execute(cmd);
    await settle();
    expect(core.abortTask(masked, 2, 4242)).toBe('notFound');
    expect(core.abortTask(masked, 0, 4242)).toBe('complete');
    g.open();
    expect((await response).status).toBe(ScsiStatus.TASK_ABORTED);
  });

  it('a changed view raises REPORTED LUNS DATA HAS CHANGED once on the LUs the nexus may now address; a readOnly flip alone does not', async () => {
    const { core, masked, open } = await world();
    core.setNexusView(masked, view([[0, 2], [5, 1]]));
    await expectGood(core, masked, 0);
    core.setNexusView(masked, view([[0, 2], [7, 0]]));
    for (const lun of [0, 7]) {
      expect(sense(await run(core, TUR, { nexus: masked, lun }))).toMatchObject(LUNS_CHANGED);
      await expectGood(core, masked, lun);
    }
    expect(sense(await run(core, TUR, { nexus: masked, lun: 5 }))).toMatchObject(NOT_SUPPORTED);
    expect(reportedLuns(dataOf(await run(core, REPORT_LUNS, { nexus: masked })))).toEqual([0, 7]);
    // The other nexus was not told anything.
    for (const lun of [0, 1, 2]) await expectGood(core, open, lun);
    // Removing the view: every LU under its own number, and the nexus is told.
    core.setNexusView(masked, undefined);
    expect(sense(await run(core, TUR, { nexus: masked, lun: 1 }))).toMatchObject(LUNS_CHANGED);
    expect(reportedLuns(dataOf(await run(core, REPORT_LUNS, { nexus: masked })))).toEqual([0, 1, 2]);
  });

  it('removing the nexus drops its view: a new nexus with the same id sees every LU', async () => {
    const { core, masked } = await world();
    core.removeNexus(masked);
    expect(core.nexusView(masked)).toBeUndefined();
    core.addNexus(masked);
    expect(reportedLuns(dataOf(await run(core, REPORT_LUNS, { nexus: masked })))).toEqual([0, 1, 2]);
  });
});
