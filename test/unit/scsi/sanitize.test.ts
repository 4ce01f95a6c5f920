import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { dataOf, run, sense, setup } from './fixture.js';

/** SANITIZE(10): byte 1 = IMMED | AUSE | SERVICE ACTION, bytes 7-8 PARAMETER LIST LENGTH. */
const sanitizeCdb = (serviceAction: number, byte1Flags = 0, paramLength = 0): number[] => [
  0x48, byte1Flags | serviceAction, 0, 0, 0, 0, 0, paramLength >> 8, paramLength & 0xff, 0,
];
const BLOCK_ERASE = 0x02;
/** REPORT SUPPORTED OPERATION CODES, one command with service action (REPORTING OPTIONS 010b). */
const rsocOne = (opcode: number, sa: number): number[] => [0xa3, 0x0c, 0x02, opcode, 0, sa, 0, 0, 1, 0, 0, 0];

describe('SANITIZE', () => {
  it('BLOCK ERASE on a thin LU deallocates every block; they read back as zeros', async () => {
    const { core, dev } = await setup(64, { thin: true });
    dev.buffer.fill(0x61);
    expect((await run(core, sanitizeCdb(BLOCK_ERASE))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.filter((r) => r.op === 'discard')).toEqual([{ op: 'discard', offset: 0, length: 64 * 512 }]);
    expect(dataOf(await run(core, [0x28, 0, 0, 0, 0, 60, 0, 0, 4, 0])).every((b) => b === 0)).toBe(true);
  });

  it('IMMED and AUSE are accepted; the erase is done when status comes back', async () => {
    const { core, dev } = await setup(64, { thin: true });
    dev.buffer.fill(1);
    expect((await run(core, sanitizeCdb(BLOCK_ERASE, 0x80 | 0x20))).status).toBe(ScsiStatus.GOOD);
    expect(dev.buffer.every((b) => b === 0)).toBe(true);
  });

  it('refuses reserved bits and bytes, a parameter list, and a write-protected LU', async () => {
    const { core, dev } = await setup(64, { thin: true });
    dev.buffer.fill(1);
    expect(sense(await run(core, sanitizeCdb(BLOCK_ERASE, 0x40)))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 6 } });
    for (let byte = 2; byte <= 6; byte++) {
      const cdb = sanitizeCdb(BLOCK_ERASE);
      cdb[byte] = byte;
      expect(sense(await run(core, cdb))).toMatchObject({ asc: 0x24, fieldPointer: { byte } });
    }
    expect(sense(await run(core, sanitizeCdb(BLOCK_ERASE, 0, 8), { data: Buffer.alloc(8) }))).toMatchObject({
      asc: 0x24,
      fieldPointer: { byte: 7 },
    });
    expect(dev.buffer.every((b) => b === 1)).toBe(true);
    const ro = await setup(64, { thin: true, readOnly: true });
    expect(sense(await run(ro.core, sanitizeCdb(BLOCK_ERASE)))).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27 });
  });

  it('OVERWRITE, CRYPTO ERASE, EXIT FAILURE MODE and undefined service actions are INVALID FIELD IN CDB on SERVICE ACTION', async () => {
    const { core } = await setup(64, { thin: true });
    for (const sa of [0x00, 0x01, 0x03, 0x04, 0x1e, 0x1f]) {
      expect(sense(await run(core, sanitizeCdb(sa))), `service action ${sa}`).toMatchObject({
        key: SenseKey.ILLEGAL_REQUEST,
        asc: 0x24,
        fieldPointer: { byte: 1, bit: 4 },
      });
    }
  });

  it('a fully provisioned LU refuses BLOCK ERASE and does not list it in REPORT SUPPORTED OPERATION CODES', async () => {
    const plain = await setup(64);
    plain.dev.buffer.fill(1);
    expect(sense(await run(plain.core, sanitizeCdb(BLOCK_ERASE)))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 4 } });
    expect(plain.dev.buffer.every((b) => b === 1)).toBe(true);
    expect(dataOf(await run(plain.core, rsocOne(0x48, BLOCK_ERASE)))[1]! & 0x07).toBe(0x01);
    const thin = await setup(64, { thin: true });
    expect(dataOf(await run(thin.core, rsocOne(0x48, BLOCK_ERASE)))[1]! & 0x07).toBe(0x03);
  });

  it('VPD B1h reports WABEREQ = 01b only where BLOCK ERASE is offered', async () => {
    const inq = [0x12, 0x01, 0xb1, 0, 0xff, 0];
    expect(dataOf(await run((await setup(64, { thin: true })).core, inq))[7]! >> 6).toBe(1);
    expect(dataOf(await run((await setup(64)).core, inq))[7]! >> 6).toBe(0);
  });
});
