import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../../src/scsi/command.js';
import { accessOf } from '../../../../src/scsi/pr/access.js';
import { inquiry, read10, write10 } from '../../../helpers/cdb.js';
import { IN, prInCdb, SA, TYPES } from '../../../helpers/pr.js';
import { run } from '../fixture.js';
import { basic, prSetup, TUR } from './pr-fixture.js';

const { GOOD, RESERVATION_CONFLICT } = ScsiStatus;
const MODE_SENSE_6 = [0x1a, 0, 0x3f, 0, 0xff, 0];
const READ_CAPACITY_10 = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/** [registered reads, registered writes, unregistered reads, unregistered writes] for a non-holder (SPC-4 5.13.1). */
const EXPECTED: [keyof typeof TYPES, [boolean, boolean, boolean, boolean]][] = [
  ['WE', [true, false, true, false]],
  ['EA', [false, false, false, false]],
  ['WE_RO', [true, true, true, false]],
  ['EA_RO', [true, true, false, false]],
  ['WE_AR', [true, true, true, false]],
  ['EA_AR', [true, true, false, false]],
];

describe('reservation access rules', () => {
  it.each(EXPECTED)('%s: holder has full access; registered and unregistered nexuses as SPC-4 says', async (name, [rr, rw, ur, uw]) => {
    const { core, a, b, c } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, 1n);
    await basic(core, b, SA.REGISTER, 0, 0n, 2n);
    expect((await basic(core, a, SA.RESERVE, TYPES[name], 1n, 0n)).status).toBe(GOOD);
    const data = Buffer.alloc(512);
    const st = async (n: typeof a, write: boolean) =>
      (await run(core, write ? write10(4, 1) : read10(4, 1), write ? { nexus: n, data } : { nexus: n })).status;
    const expectOk = (ok: boolean) => (ok ? GOOD : RESERVATION_CONFLICT);
    expect(await st(a, false)).toBe(GOOD);
    expect(await st(a, true)).toBe(GOOD);
    expect(await st(b, false)).toBe(expectOk(rr));
    expect(await st(b, true)).toBe(expectOk(rw));
    expect(await st(c, false)).toBe(expectOk(ur));
    expect(await st(c, true)).toBe(expectOk(uw));
    // Identification, TEST UNIT READY, capacity and PR IN never conflict.
    for (const cdb of [inquiry(96), Buffer.from(TUR), Buffer.from(READ_CAPACITY_10), prInCdb(IN.READ_KEYS)]) {
      expect((await run(core, cdb, { nexus: c })).status).toBe(GOOD);
    }
    // MODE SENSE is a read: allowed to outsiders only under the WRITE EXCLUSIVE types.
    expect((await run(core, MODE_SENSE_6, { nexus: c })).status).toBe(expectOk(ur));
  });

  it('without a reservation, registrations alone restrict nothing', async () => {
    const { core, a, c } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, 1n);
    expect((await run(core, write10(0, 1), { nexus: c, data: Buffer.alloc(512) })).status).toBe(GOOD);
  });

  it('classifies commands by opcode and, where SBC-3 says so, by CDB fields', () => {
    expect(accessOf(read10(0, 1))).toBe('read');
    expect(accessOf(write10(0, 1))).toBe('write');
    expect(accessOf(Buffer.from([0x15, 0x10, 0, 0, 0, 0]))).toBe('write'); // MODE SELECT(6)
    expect(accessOf(Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe('write'); // SYNCHRONIZE CACHE(10)
    expect(accessOf(Buffer.from([0xee]))).toBe('write'); // unknown: the safe side
    expect(accessOf(Buffer.from([0x1b, 0, 0, 0, 0x01, 0]))).toBe('allowed'); // START STOP UNIT, START=1
    expect(accessOf(Buffer.from([0x1b, 0, 0, 0, 0x00, 0]))).toBe('write'); // STOP
    expect(accessOf(Buffer.from([0x1b, 0, 0, 0, 0x11, 0]))).toBe('write'); // START with a power condition
    expect(accessOf(Buffer.from([0x1e, 0, 0, 0, 0x00, 0]))).toBe('allowed'); // ALLOW MEDIUM REMOVAL
    expect(accessOf(Buffer.from([0x1e, 0, 0, 0, 0x01, 0]))).toBe('write'); // PREVENT
    expect(accessOf(Buffer.from([0x9e, 0x10]))).toBe('allowed'); // READ CAPACITY(16)
    expect(accessOf(Buffer.from([0x9e, 0x12]))).toBe('read'); // GET LBA STATUS
    expect(accessOf(Buffer.from([0x5f, 0x00]))).toBe('self');
    expect(accessOf(Buffer.from([0x16]))).toBe('self');
  });
});
