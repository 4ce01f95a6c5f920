/**
 * ScsiTargetCore.senseFor: the sense bytes the transport sends for what it refuses on its own
 * (unusable Data-Out, a digest error, a timeout) follow the LU's D_SENSE like the core's own answers.
 */
import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { buildFixedSense, parseSense, SenseKey } from '../../../src/scsi/sense.js';
import { Sense } from '../../../src/scsi/sense-reasons.js';
import { run, setup } from './fixture.js';

/** MODE SELECT(10) of the control mode page with D_SENSE set or clear (TST 000b, QAM 1, TAS 1). */
function selectDsense(on: boolean): { cdb: number[]; data: Buffer } {
  const list = [0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x0a, on ? 0x04 : 0x00, 0x10, 0x00, 0x40, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00];
  return { cdb: [0x55, 0x10, 0, 0, 0, 0, 0, 0, list.length, 0], data: Buffer.from(list) };
}

/** What the session used to build itself (always fixed format), ABORTED COMMAND with these ASC/ASCQ. */
const SESSION_REASONS = [
  { reason: Sense.dataPhaseError, asc: 0x4b, ascq: 0x00 },
  { reason: Sense.protocolServiceCrcError, asc: 0x47, ascq: 0x05 },
  { reason: Sense.unexpectedUnsolicitedData, asc: 0x0c, ascq: 0x0c },
  { reason: Sense.notEnoughUnsolicitedData, asc: 0x0c, ascq: 0x0d },
  { reason: Sense.initiatorResponseTimeout, asc: 0x4b, ascq: 0x06 },
];

describe('senseFor(lun, reason)', () => {
  it('fixed format while D_SENSE is off: the same bytes the transport built before', async () => {
    const { core } = await setup(64);
    for (const { reason, asc, ascq } of SESSION_REASONS) {
      expect(core.senseFor(0, reason).equals(buildFixedSense({ key: SenseKey.ABORTED_COMMAND, asc, ascq }))).toBe(true);
    }
  });

  it('descriptor format once MODE SELECT sets D_SENSE, fixed again once it is cleared', async () => {
    const { core } = await setup(64);
    const on = selectDsense(true);
    expect((await run(core, on.cdb, { data: on.data })).status).toBe(ScsiStatus.GOOD);
    for (const { reason, asc, ascq } of SESSION_REASONS) {
      const bytes = core.senseFor(0, reason);
      expect(bytes[0]).toBe(0x72);
      expect(parseSense(bytes)).toEqual({ key: SenseKey.ABORTED_COMMAND, asc, ascq });
    }
    // The core's own refusals use the same format.
    const refused = await run(core, [0xff, 0, 0, 0, 0, 0]);
    expect(refused.sense?.[0]).toBe(0x72);
    const off = selectDsense(false);
    expect((await run(core, off.cdb, { data: off.data })).status).toBe(ScsiStatus.GOOD);
    expect(core.senseFor(0, Sense.dataPhaseError)[0]).toBe(0x70);
  });

  it('keeps the information and field pointer of the reason', async () => {
    const { core, lu } = await setup(64);
    lu.descriptorSense = true;
    expect(parseSense(core.senseFor(0, Sense.unrecoveredReadError(2 ** 33)))).toMatchObject({ key: SenseKey.MEDIUM_ERROR, information: 2 ** 33 });
    expect(parseSense(core.senseFor(0, Sense.invalidFieldInCdb(2, 7)))).toMatchObject({ fieldPointer: { cd: true, byte: 2, bit: 7 } });
  });

  it('per LU, and fixed for a LUN without an LU', async () => {
    const { core, lu } = await setup(64);
    lu.descriptorSense = true;
    expect(core.senseFor(0, Sense.dataPhaseError)[0]).toBe(0x72);
    expect(core.senseFor(7, Sense.dataPhaseError)[0]).toBe(0x70);
  });

  it('a LOGICAL UNIT RESET restores fixed format (D_SENSE is not saved)', async () => {
    const { core, lu, nexus } = await setup(64);
    lu.descriptorSense = true;
    await core.lunReset(nexus, 0);
    expect(core.senseFor(0, Sense.dataPhaseError)[0]).toBe(0x70);
  });
});
