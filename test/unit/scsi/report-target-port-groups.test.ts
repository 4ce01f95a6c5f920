import { describe, expect, it } from 'vitest';
import { AccessState, AccessStatus, AluaModel, type TargetPortGroup } from '../../../src/scsi/alua.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { supportedStateBits, targetPortGroupsData } from '../../../src/scsi/spc/report-target-port-groups.js';
import { dataOf, run, sense, setup } from './fixture.js';

const { ACTIVE_OPTIMIZED: AO, ACTIVE_NON_OPTIMIZED: ANO, STANDBY, UNAVAILABLE, TRANSITIONING } = AccessState;

function rtpg(allocation: number, format = 0, control = 0): number[] {
  return [0xa3, (format << 5) | 0x0a, 0, 0, 0, 0, (allocation >>> 24) & 0xff, (allocation >> 16) & 0xff, (allocation >> 8) & 0xff, allocation & 0xff, 0, control];
}

const GROUPS: TargetPortGroup[] = [
  { id: 1, state: AO, preferred: true, status: AccessStatus.NONE, relativeTargetPortIds: [1, 2] },
  { id: 0x1234, state: STANDBY, preferred: false, status: AccessStatus.IMPLICIT, relativeTargetPortIds: [0x0203] },
  { id: 3, state: TRANSITIONING, preferred: false, status: AccessStatus.NONE, relativeTargetPortIds: [7, 8, 9] },
];

describe('REPORT TARGET PORT GROUPS parameter data', () => {
  it('length-only header: RETURN DATA LENGTH, then one descriptor per group with its ports', () => {
    const d = targetPortGroupsData(GROUPS, { extended: false, supported: 0x8f, implicitTransitionSeconds: 30 });
    // 4 + (8 + 2*4) + (8 + 1*4) + (8 + 3*4) = 52
    expect(d.length).toBe(52);
    expect(d.readUInt32BE(0)).toBe(48);
    // group 1 at 4
    expect([...d.subarray(4, 12)]).toEqual([0x80, 0x8f, 0x00, 0x01, 0, 0x00, 0, 2]);
    expect([...d.subarray(12, 20)]).toEqual([0, 0, 0, 1, 0, 0, 0, 2]);
    // group 1234h at 20
    expect([...d.subarray(20, 28)]).toEqual([0x02, 0x8f, 0x12, 0x34, 0, 0x02, 0, 1]);
    expect([...d.subarray(28, 32)]).toEqual([0, 0, 0x02, 0x03]);
    // group 3 at 32
    expect([...d.subarray(32, 40)]).toEqual([0x0f, 0x8f, 0x00, 0x03, 0, 0x00, 0, 3]);
    expect(d.readUInt16BE(42)).toBe(7);
    expect(d.readUInt16BE(46)).toBe(8);
    expect(d.readUInt16BE(50)).toBe(9);
  });

  it('extended header: FORMAT TYPE 001b, IMPLICIT TRANSITION TIME, descriptors at byte 8, length of all after byte 3', () => {
    const d = targetPortGroupsData(GROUPS, { extended: true, supported: 0x05, implicitTransitionSeconds: 30 });
    expect(d.length).toBe(56);
    expect(d.readUInt32BE(0)).toBe(52);
    expect(d[4]).toBe(0x10);
    expect(d[5]).toBe(30);
    expect([d[6], d[7]]).toEqual([0, 0]);
    expect([...d.subarray(8, 16)]).toEqual([0x80, 0x05, 0x00, 0x01, 0, 0, 0, 2]);
    expect(d.readUInt16BE(8 + 8 + 4 + 2)).toBe(2);
  });

  it('leaves out groups without ports; no groups is just the header', () => {
    const empty = { id: 9, state: UNAVAILABLE, preferred: false, status: AccessStatus.NONE, relativeTargetPortIds: [] } as const;
    const d = targetPortGroupsData([empty, GROUPS[1]!], { extended: false, supported: 0x8f, implicitTransitionSeconds: 0 });
    expect(d.length).toBe(16);
    expect(d.readUInt16BE(6)).toBe(0x1234);
    expect([...targetPortGroupsData([], { extended: false, supported: 0, implicitTransitionSeconds: 0 })]).toEqual([0, 0, 0, 0]);
  });

  it('supported-state bits: T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP', () => {
    expect(supportedStateBits([AO, ANO, STANDBY, UNAVAILABLE, TRANSITIONING])).toBe(0x8f);
    expect(supportedStateBits([AO, STANDBY])).toBe(0x05);
    expect(supportedStateBits([TRANSITIONING])).toBe(0x80);
    expect(supportedStateBits([ANO, UNAVAILABLE])).toBe(0x0a);
  });
});

function model(): AluaModel {
  return new AluaModel({
    groups: [
      { id: 1, state: AO, preferred: true, relativeTargetPortIds: [1] },
      { id: 2, state: STANDBY, relativeTargetPortIds: [2, 3] },
    ],
    local: { groupId: 1, relativeTargetPortId: 1 },
    supportedStates: [AO, STANDBY, TRANSITIONING],
    implicitTransitionSeconds: 10,
  });
}

async function withAlua() {
  const s = await setup();
  const m = model();
  s.core.setAluaProvider(m);
  return { ...s, m };
}

describe('REPORT TARGET PORT GROUPS command', () => {
  it('reports every group of the model, both formats', async () => {
    const { core } = await withAlua();
    const short = dataOf(await run(core, rtpg(1024)));
    expect(short.length).toBe(4 + 12 + 16);
    expect(short.readUInt32BE(0)).toBe(28);
    expect([...short.subarray(4, 16)]).toEqual([0x80, 0x85, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect([...short.subarray(16, 24)]).toEqual([0x02, 0x85, 0, 2, 0, 0, 0, 2]);
    expect([short.readUInt16BE(26), short.readUInt16BE(30)]).toEqual([2, 3]);
    const ext = dataOf(await run(core, rtpg(1024, 1)));
    expect(ext.length).toBe(8 + 12 + 16);
    expect(ext.readUInt32BE(0)).toBe(32);
    expect([ext[4], ext[5]]).toEqual([0x10, 10]);
    expect(ext.subarray(8)).toEqual(short.subarray(4));
  });

  it('cuts the data to ALLOCATION LENGTH, RETURN DATA LENGTH still the full size', async () => {
    const { core } = await withAlua();
    for (const allocation of [0, 2, 4, 8, 13, 16, 20, 31]) {
      const r = await run(core, rtpg(allocation));
      expect(r.status).toBe(ScsiStatus.GOOD);
      const d = dataOf(r);
      expect(d.length).toBe(allocation);
      if (allocation >= 4) expect(d.readUInt32BE(0)).toBe(28);
    }
    const full = dataOf(await run(core, rtpg(1024)));
    expect(dataOf(await run(core, rtpg(20)))).toEqual(full.subarray(0, 20));
  });

  it('refuses a PARAMETER DATA FORMAT other than 000b/001b and NACA, with field pointers', async () => {
    const { core } = await withAlua();
    for (const format of [2, 3, 7]) {
      const r = await run(core, rtpg(64, format));
      expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
      expect(sense(r)).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 1, bit: 7 } });
    }
    expect(sense(await run(core, rtpg(64, 0, 0x04)))).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 11, bit: 2 } });
  });

  it('reports the state of the moment it runs (after setState)', async () => {
    const { core, m, nexus } = await withAlua();
    m.setState(2, AO);
    // The unit attention first (RTPG does not bypass it), then the new state with STATUS CODE 02h.
    const ua = await run(core, rtpg(64), { nexus });
    expect(sense(ua)).toMatchObject({ key: 6, asc: 0x2a, ascq: 0x06 });
    const d = dataOf(await run(core, rtpg(64), { nexus }));
    expect([d[16], d[21]]).toEqual([AO, AccessStatus.IMPLICIT]);
    expect([d[4], d[9]]).toEqual([0x80 | AO, AccessStatus.NONE]);
  });
});
