/**
 * Implicit ALUA over a real socket: a provider injected into the running target's SCSI core (the
 * way cluster mode will), seen by an initiator: TPGS, VPD 83h, REPORT TARGET PORT GROUPS, the
 * unit attention on a state change, NOT READY in standby. And without one, nothing of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessState, AluaModel } from '../../src/scsi/alua.js';
import { groupsOf, rtpg } from '../helpers/alua.js';
import { inquiry, read10, senseCodes, testUnitReady } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const GOOD = 0;
const CHECK_CONDITION = 2;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget();
});
afterAll(() => t.stop());

async function session(): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  const r = await i.login({ targetName: TEST_IQN });
  expect(r.status).toEqual([0, 0]);
  const tur = await i.command({ cdb: testUnitReady() });
  expect(senseCodes(tur.sense)).toEqual([0x06, 0x29, 0x00]);
  return i;
}

describe('ALUA over iSCSI', () => {
  it('without a provider: TPGS 00b and REPORT TARGET PORT GROUPS refused as an unknown service action', async () => {
    const i = await session();
    const inq = await i.command({ cdb: inquiry(96), read: 96 });
    expect(inq.status).toBe(GOOD);
    expect(inq.data[5]! & 0x30).toBe(0);
    const r = await i.command({ cdb: rtpg(256), read: 256 });
    expect(r.status).toBe(CHECK_CONDITION);
    expect(senseCodes(r.sense)).toEqual([0x05, 0x24, 0x00]);
    i.close();
  });

  it('with a provider: RTPG, then a state change: unit attention, the new state, NOT READY for a READ in standby', async () => {
    const core = t.scatter.iscsi.targets.get(TEST_IQN)!.scsi;
    const alua = new AluaModel({
      groups: [
        { id: 1, state: AccessState.ACTIVE_OPTIMIZED, preferred: true, relativeTargetPortIds: [1] },
        { id: 2, state: AccessState.STANDBY, relativeTargetPortIds: [2] },
      ],
      local: { groupId: 1, relativeTargetPortId: 1 },
      implicitTransitionSeconds: 10,
    });
    core.setAluaProvider(alua);
    try {
      const i = await session();
      const inq = await i.command({ cdb: inquiry(96), read: 96 });
      expect(inq.data[5]! & 0x30).toBe(0x10);

      // What the initiator learns first: the full size from a 4-byte answer, then everything.
      const head = await i.command({ cdb: rtpg(4), read: 4 });
      expect(head.status).toBe(GOOD);
      const total = head.data.readUInt32BE(0) + 4;
      const all = await i.command({ cdb: rtpg(total), read: total });
      expect(all.data.length).toBe(total);
      expect(groupsOf(all.data)).toEqual([
        [1, AccessState.ACTIVE_OPTIMIZED, [1]],
        [2, AccessState.STANDBY, [2]],
      ]);
      const ext = await i.command({ cdb: rtpg(256, true), read: 256 });
      expect([ext.data[4], ext.data[5]]).toEqual([0x10, 10]);
      expect((await i.command({ cdb: read10(0, 1), read: 512 })).status).toBe(GOOD);

      // This node's group goes to standby, the other becomes the active one.
      alua.setStates(
        new Map([
          [1, AccessState.STANDBY],
          [2, AccessState.ACTIVE_OPTIMIZED],
        ]),
      );
      const ua = await i.command({ cdb: rtpg(total), read: total });
      expect(ua.status).toBe(CHECK_CONDITION);
      expect(senseCodes(ua.sense)).toEqual([0x06, 0x2a, 0x06]);
      const now = await i.command({ cdb: rtpg(total), read: total });
      expect(now.status).toBe(GOOD);
      expect(groupsOf(now.data)).toEqual([
        [1, AccessState.STANDBY, [1]],
        [2, AccessState.ACTIVE_OPTIMIZED, [2]],
      ]);
      expect(now.data[4 + 5]).toBe(0x02); // STATUS CODE: changed implicitly
      const read = await i.command({ cdb: read10(0, 1), read: 512 });
      expect(read.status).toBe(CHECK_CONDITION);
      expect(senseCodes(read.sense)).toEqual([0x02, 0x04, 0x0b]);
      const tur = await i.command({ cdb: testUnitReady() });
      expect(senseCodes(tur.sense)).toEqual([0x02, 0x04, 0x0b]);
      // LUN 1 got the attention too (after its power-on one, which outranks it).
      expect(senseCodes((await i.command({ cdb: testUnitReady(), lun: 1 })).sense)).toEqual([0x06, 0x29, 0x00]);
      expect(senseCodes((await i.command({ cdb: testUnitReady(), lun: 1 })).sense)).toEqual([0x06, 0x2a, 0x06]);
      expect(senseCodes((await i.command({ cdb: testUnitReady(), lun: 1 })).sense)).toEqual([0x02, 0x04, 0x0b]);
      i.close();
    } finally {
      core.setAluaProvider(undefined);
    }
  });
});
