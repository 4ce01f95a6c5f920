/**
 * The generic core and what a device type registers with it (device-type.ts): the core runs the
 * type's gates (on arrival, and again at start where asked), answers INQUIRY and VPD 00h from it,
 * and calls its reset and nexus-loss hooks. A device type that claims one opcode twice is refused.
 */
import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import type { CommandGate, DeviceType } from '../../../src/scsi/device-type.js';
import { DIRECT_ACCESS_DEVICE } from '../../../src/scsi/disk.js';
import { ScsiError } from '../../../src/scsi/errors.js';
import type { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { Sense } from '../../../src/scsi/sense-reasons.js';
import { SPC_VPD_PAGES } from '../../../src/scsi/spc/vpd.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, dataOf, gate, makeLu, makeNexus, run, send, sense, settle, TARGET } from './fixture.js';

const TUR = [0x00, 0, 0, 0, 0, 0];
const INQUIRY = [0x12, 0, 0, 0, 96, 0];
const VPD_SUPPORTED = [0x12, 1, 0x00, 0, 255, 0];

/** A gate that refuses everything but INQUIRY while `closed`, with a reason no disk gate gives. */
function switchGate(recheckAtStart: boolean): CommandGate & { closed: boolean } {
  const g = {
    closed: false,
    recheckAtStart,
    refusal: (_lu: LogicalUnit, cdb: Buffer) => (g.closed && cdb[0] !== 0x12 ? Sense.operationInProgress : undefined),
  };
  return g;
}

async function coreOf(deviceType: DeviceType, dev = new MemDevice(64)) {
  const lu = makeLu(dev);
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu], deviceType });
  const nexus = makeNexus();
  core.addNexus(nexus);
  await run(core, TUR, { nexus });
  return { core, lu, nexus, dev };
}

describe('gates a device type registers', () => {
  it('refuse commands on arrival with their reason, in the LU sense format', async () => {
    const g = switchGate(false);
    const { core, lu, nexus } = await coreOf({ ...DIRECT_ACCESS_DEVICE, gates: [g] });
    expect((await run(core, cdb10(0x28, 0, 1), { nexus })).status).toBe(ScsiStatus.GOOD);
    g.closed = true;
    expect(sense(await run(core, cdb10(0x28, 0, 1), { nexus }))).toEqual({ key: 0x5, asc: 0x00, ascq: 0x16 });
    expect((await run(core, INQUIRY, { nexus })).status).toBe(ScsiStatus.GOOD);
    lu.descriptorSense = true;
    expect((await run(core, TUR, { nexus })).sense?.[0]).toBe(0x72);
  });

  it('come after the core offline gate and before the CDB is parsed', async () => {
    const g = switchGate(false);
    g.closed = true;
    const { core, nexus, dev } = await coreOf({ ...DIRECT_ACCESS_DEVICE, gates: [g] });
    // A CDB the parser would refuse (RDPROTECT set) still gets the gate's answer.
    expect(sense(await run(core, cdb10(0x28, 0, 1, 0xe0), { nexus }))).toMatchObject({ asc: 0x00, ascq: 0x16 });
    (dev as unknown as { health: object }).health = { offline: { cause: 'truncated' }, onCapacityChange: () => () => {} };
    expect(sense(await run(core, TUR, { nexus }))).toEqual({ key: 0x2, asc: 0x04, ascq: 0x03 });
  });

  for (const recheckAtStart of [true, false]) {
    it(`${recheckAtStart ? 'are' : 'are not'} checked again when a queued task starts (recheckAtStart ${recheckAtStart})`, async () => {
      const g = switchGate(recheckAtStart);
      const held = gate();
      const dev = new MemDevice(64);
      const { core, nexus } = await coreOf({ ...DIRECT_ACCESS_DEVICE, gates: [g] }, dev);
      dev.beforeIo = (op) => (op === 'write' ? held.promise : undefined);
      const ordered = send(core, cdb10(0x2a, 0, 1), { nexus, attr: 'ordered', data: Buffer.alloc(512) });
      await settle();
      const read = send(core, cdb10(0x28, 0, 1), { nexus });
      expect(read.prepared.kind).toBe('execute');
      await settle();
      g.closed = true;
      held.open();
      expect((await ordered.response).status).toBe(ScsiStatus.GOOD);
      const r = await read.response;
      if (recheckAtStart) expect(sense(r)).toMatchObject({ asc: 0x00, ascq: 0x16 });
      else expect(r.status).toBe(ScsiStatus.GOOD);
    });
  }
});

describe('what INQUIRY reports of the device type', () => {
  it('the peripheral device type, the command set version descriptor, and its VPD pages', async () => {
    const { core, nexus } = await coreOf({ ...DIRECT_ACCESS_DEVICE, peripheralType: 0x0e, commandSetVersion: 0x0123, vpdPages: SPC_VPD_PAGES });
    const inq = dataOf(await run(core, INQUIRY, { nexus }));
    expect(inq[0]).toBe(0x0e);
    expect([inq.readUInt16BE(58), inq.readUInt16BE(60), inq.readUInt16BE(62)]).toEqual([0x00a0, 0x0460, 0x0123]);
    const vpd = dataOf(await run(core, VPD_SUPPORTED, { nexus }));
    expect(vpd[0]).toBe(0x0e);
    expect([...vpd.subarray(4)]).toEqual([0x00, 0x80, 0x83, 0x8f]);
    expect(sense(await run(core, [0x12, 1, 0xb0, 0, 255, 0], { nexus }))).toMatchObject({ key: 0x5, asc: 0x24 });
  });

  it('the disk: direct access, SBC-3, and SBC pages B0h-B2h (B2h on a thin LU) in order after SPC pages', async () => {
    const dev = new MemDevice(64);
    const lu = makeLu(dev, { thin: true });
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
    const inq = dataOf(await run(core, INQUIRY));
    expect(inq[0]).toBe(0x00);
    expect(inq.readUInt16BE(62)).toBe(0x04c0);
    expect([...dataOf(await run(core, VPD_SUPPORTED)).subarray(4)]).toEqual([0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2]);
  });
});

describe('reset and nexus-loss hooks', () => {
  it('LOGICAL UNIT RESET and TARGET RESET call reset(lu); losing a nexus calls nexusLost(lu, id)', async () => {
    const calls: string[] = [];
    const { core, nexus } = await coreOf({
      ...DIRECT_ACCESS_DEVICE,
      reset: (lu) => calls.push(`reset ${lu.lun}`),
      nexusLost: (lu, id) => calls.push(`lost ${lu.lun} ${id}`),
    });
    await core.lunReset(nexus, 0);
    await core.targetReset(nexus, 'warm');
    core.removeNexus(nexus);
    expect(calls).toEqual(['reset 0', 'reset 0', `lost 0 ${nexus.id}`]);
  });

  it('the disk clears PREVENT ALLOW MEDIUM REMOVAL on a reset', async () => {
    const { core, lu, nexus } = await coreOf(DIRECT_ACCESS_DEVICE, new MemDevice(64));
    expect(lu.removable).toBe(false);
    lu.medium.setPrevent(nexus.id, true);
    await core.lunReset(nexus, 0);
    expect(lu.medium.prevented).toBe(false);
  });
});

describe('the opcode table of a device type', () => {
  it('refuses an opcode claimed twice', () => {
    const dup = { ...DIRECT_ACCESS_DEVICE, handlers: [...DIRECT_ACCESS_DEVICE.handlers, DIRECT_ACCESS_DEVICE.handlers[0]!] };
    const make = () => new ScsiTargetCore({ targetName: TARGET, luns: [], deviceType: dup });
    expect(make).toThrow(ScsiError);
    expect(make).toThrow(expect.objectContaining({ code: 'DUPLICATE_OPCODE' }));
  });

  it('holds only what the device type lists: without READ(10) it is INVALID COMMAND OPERATION CODE', async () => {
    const noRead10 = { ...DIRECT_ACCESS_DEVICE, handlers: DIRECT_ACCESS_DEVICE.handlers.filter((h) => h.opcode !== 0x28) };
    const { core, nexus } = await coreOf(noRead10);
    expect(sense(await run(core, cdb10(0x28, 0, 1), { nexus }))).toEqual({ key: 0x5, asc: 0x20, ascq: 0x00 });
    expect((await run(core, INQUIRY, { nexus })).status).toBe(ScsiStatus.GOOD);
  });
});
