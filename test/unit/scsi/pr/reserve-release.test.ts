import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../../src/scsi/command.js';
import { inquiry, read10, reportLuns, requestSense, write10 } from '../../../helpers/cdb.js';
import { IN, prInCdb, release10, release6, reserve10, reserve6, SA, TYPES } from '../../../helpers/pr.js';
import { run, sense } from '../fixture.js';
import { basic, prSetup, TUR } from './pr-fixture.js';

const { GOOD, RESERVATION_CONFLICT } = ScsiStatus;

describe('RESERVE / RELEASE (SPC-2)', () => {
  it('shuts other nexuses out of everything but INQUIRY, REPORT LUNS, REQUEST SENSE and RELEASE', async () => {
    const { core, a, b } = await prSetup();
    expect((await run(core, reserve6(), { nexus: a })).status).toBe(GOOD);
    expect((await run(core, reserve6(), { nexus: a })).status).toBe(GOOD); // again: still GOOD
    for (const cdb of [Buffer.from(TUR), read10(0, 1), Buffer.from([0x1a, 0, 0x3f, 0, 0xff, 0]), reserve6(), reserve10()]) {
      expect((await run(core, cdb, { nexus: b })).status).toBe(RESERVATION_CONFLICT);
    }
    for (const cdb of [inquiry(96), reportLuns(), requestSense()]) {
      expect((await run(core, cdb, { nexus: b })).status).toBe(GOOD);
    }
    // RELEASE from a non-holder is GOOD and releases nothing.
    expect((await run(core, release6(), { nexus: b })).status).toBe(GOOD);
    expect((await run(core, write10(0, 1), { nexus: b, data: Buffer.alloc(512) })).status).toBe(RESERVATION_CONFLICT);
    expect((await run(core, write10(0, 1), { nexus: a, data: Buffer.alloc(512) })).status).toBe(GOOD);
    expect((await run(core, release10(), { nexus: a })).status).toBe(GOOD);
    expect((await run(core, reserve10(), { nexus: b })).status).toBe(GOOD);
  });

  it('makes PERSISTENT RESERVE IN/OUT conflict for every nexus, the holder included', async () => {
    const { core, a } = await prSetup();
    await run(core, reserve6(), { nexus: a });
    expect((await run(core, prInCdb(IN.READ_KEYS), { nexus: a })).status).toBe(RESERVATION_CONFLICT);
    expect((await basic(core, a, SA.REGISTER, 0, 0n, 1n)).status).toBe(RESERVATION_CONFLICT);
  });

  it('is released by the loss of its nexus, a LOGICAL UNIT RESET and a target reset', async () => {
    const { core, a, b, c } = await prSetup();
    await run(core, reserve6(), { nexus: a });
    core.removeNexus(a);
    expect((await run(core, reserve6(), { nexus: b })).status).toBe(GOOD);
    await core.lunReset(b, 0);
    await run(core, TUR, { nexus: c }); // the reset's unit attention
    expect((await run(core, reserve6(), { nexus: c })).status).toBe(GOOD);
    await core.targetReset(c, 'warm');
    await run(core, TUR, { nexus: b });
    expect((await run(core, reserve6(), { nexus: b })).status).toBe(GOOD);
  });

  it('yields to persistent reservations (CRH = 1)', async () => {
    const { core, a, b, c } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, 1n);
    await basic(core, b, SA.REGISTER, 0, 0n, 2n);
    // Registrations without a reservation: RESERVE and RELEASE conflict for everyone.
    expect((await run(core, reserve6(), { nexus: a })).status).toBe(RESERVATION_CONFLICT);
    expect((await run(core, release6(), { nexus: c })).status).toBe(RESERVATION_CONFLICT);
    await basic(core, a, SA.RESERVE, TYPES.WE, 1n, 0n);
    // The holder: GOOD without effect. A mere registrant of a WE reservation, or an outsider: conflict.
    expect((await run(core, reserve6(), { nexus: a })).status).toBe(GOOD);
    expect((await run(core, release10(), { nexus: a })).status).toBe(GOOD);
    expect((await run(core, reserve6(), { nexus: b })).status).toBe(RESERVATION_CONFLICT);
    expect((await run(core, release6(), { nexus: b })).status).toBe(RESERVATION_CONFLICT);
    expect((await run(core, release6(), { nexus: c })).status).toBe(RESERVATION_CONFLICT);
    // Under a registrants-only type every registrant gets the no-op.
    await basic(core, a, SA.RELEASE, TYPES.WE, 1n, 0n);
    await basic(core, a, SA.RESERVE, TYPES.WE_RO, 1n, 0n);
    expect((await run(core, reserve6(), { nexus: b })).status).toBe(GOOD);
    expect((await run(core, release6(), { nexus: b })).status).toBe(GOOD);
    // None of that touched the persistent reservation or made an SPC-2 one.
    expect((await run(core, prInCdb(IN.READ_KEYS), { nexus: b })).status).toBe(GOOD);
    expect((await run(core, write10(0, 1), { nexus: b, data: Buffer.alloc(512) })).status).toBe(GOOD);
    expect((await run(core, write10(0, 1), { nexus: c, data: Buffer.alloc(512) })).status).toBe(RESERVATION_CONFLICT);
  });

  it('refuses third-party and extent reservations', async () => {
    const { core, a } = await prSetup();
    expect(sense(await run(core, [0x16, 0x01, 0, 0, 0, 0], { nexus: a }))).toMatchObject({ key: 5, asc: 0x24, fieldPointer: { cd: true, byte: 1, bit: 0 } });
    expect(sense(await run(core, [0x56, 0x10, 0, 0, 0, 0, 0, 0, 0, 0], { nexus: a }))).toMatchObject({ key: 5, asc: 0x24, fieldPointer: { cd: true, byte: 1, bit: 4 } });
    // Nothing was reserved: another nexus can still reserve.
    expect((await run(core, reserve6(), { nexus: a })).status).toBe(GOOD);
  });
});
