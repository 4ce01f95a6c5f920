import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { dataOf, run, sense, settle, setup } from './fixture.js';

/** SANITIZE(10): byte 1 = IMMED | AUSE | SERVICE ACTION, bytes 7-8 PARAMETER LIST LENGTH. */
const sanitizeCdb = (serviceAction: number, byte1Flags = 0, paramLength = 0): number[] => [
  0x48, byte1Flags | serviceAction, 0, 0, 0, 0, 0, paramLength >> 8, paramLength & 0xff, 0,
];
const OVERWRITE = 0x01;
const BLOCK_ERASE = 0x02;
const CRYPTO_ERASE = 0x03;
const EXIT_FAILURE_MODE = 0x1f;
const IMMED = 0x80;
const AUSE = 0x20;
/** REPORT SUPPORTED OPERATION CODES, one command with service action (REPORTING OPTIONS 010b). */
const rsocOne = (opcode: number, sa: number): number[] => [0xa3, 0x0c, 0x02, opcode, 0, sa, 0, 0, 1, 0, 0, 0];
const supportOf = async (core: Parameters<typeof run>[0], sa: number): Promise<number> =>
  dataOf(await run(core, rsocOne(0x48, sa)))[1]! & 0x07;

describe('SANITIZE', () => {
  it('BLOCK ERASE on a thin LU deallocates every block; they read back as zeros', async () => {
    const { core, dev } = await setup(64, { thin: true });
    dev.buffer.fill(0x61);
    expect((await run(core, sanitizeCdb(BLOCK_ERASE))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.filter((r) => r.op === 'discard')).toEqual([{ op: 'discard', offset: 0, length: 64 * 512 }]);
    expect(dataOf(await run(core, [0x28, 0, 0, 0, 0, 60, 0, 0, 4, 0])).every((b) => b === 0)).toBe(true);
  });

  it('BLOCK ERASE with IMMED answers GOOD at once and erases in the background', async () => {
    const { core, dev, lu } = await setup(64, { thin: true });
    dev.buffer.fill(1);
    expect((await run(core, sanitizeCdb(BLOCK_ERASE, IMMED | AUSE))).status).toBe(ScsiStatus.GOOD);
    await lu.sanitize.finished;
    expect(lu.sanitize.idle).toBe(true);
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
    await settle();
    expect(dev.buffer.every((b) => b === 1)).toBe(true);
    const ro = await setup(64, { thin: true, readOnly: true });
    expect(sense(await run(ro.core, sanitizeCdb(BLOCK_ERASE)))).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27 });
  });

  it('CRYPTO ERASE and undefined service actions are INVALID FIELD IN CDB on SERVICE ACTION', async () => {
    const { core } = await setup(64, { thin: true });
    for (const sa of [0x00, CRYPTO_ERASE, 0x04, 0x10, 0x1e]) {
      expect(sense(await run(core, sanitizeCdb(sa))), `service action ${sa}`).toMatchObject({
        key: SenseKey.ILLEGAL_REQUEST,
        asc: 0x24,
        fieldPointer: { byte: 1, bit: 4 },
      });
    }
  });

  it('REPORT SUPPORTED OPERATION CODES: BLOCK ERASE on thin LUs, OVERWRITE and EXIT FAILURE MODE on writable ones, CRYPTO ERASE nowhere', async () => {
    const plain = await setup(64);
    expect(await supportOf(plain.core, BLOCK_ERASE)).toBe(0x01);
    expect(await supportOf(plain.core, OVERWRITE)).toBe(0x03);
    expect(await supportOf(plain.core, EXIT_FAILURE_MODE)).toBe(0x03);
    expect(await supportOf(plain.core, CRYPTO_ERASE)).toBe(0x01);
    const thin = await setup(64, { thin: true });
    expect(await supportOf(thin.core, BLOCK_ERASE)).toBe(0x03);
    expect(await supportOf(thin.core, OVERWRITE)).toBe(0x03);
    // A read-only LU (config) and the null backstore (keeps nothing) offer no sanitize at all.
    for (const over of [{ readOnly: true }, { keepsData: false }]) {
      const s = await setup(64, over);
      for (const sa of [OVERWRITE, BLOCK_ERASE, EXIT_FAILURE_MODE]) expect(await supportOf(s.core, sa)).toBe(0x01);
      expect(sense(await run(s.core, sanitizeCdb(OVERWRITE, 0, 8), { data: Buffer.alloc(8) }))).toMatchObject({
        asc: 0x24,
        fieldPointer: { byte: 1, bit: 4 },
      });
      expect(sense(await run(s.core, sanitizeCdb(EXIT_FAILURE_MODE)))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 4 } });
    }
  });

  it('an ejected removable medium answers NOT READY / MEDIUM NOT PRESENT and is not sanitized', async () => {
    const { core, dev, lu } = await setup(64, { removable: true, thin: true });
    dev.buffer.fill(1);
    expect((await run(core, [0x1b, 0, 0, 0, 0x02, 0])).status).toBe(ScsiStatus.GOOD); // START STOP UNIT: LOEJ, eject
    for (const cdb of [sanitizeCdb(BLOCK_ERASE), sanitizeCdb(OVERWRITE, 0, 516)]) {
      expect(sense(await run(core, cdb, { data: Buffer.alloc(516, 1) }))).toMatchObject({ key: SenseKey.NOT_READY, asc: 0x3a });
    }
    await settle();
    expect(lu.sanitize.idle).toBe(true);
    expect(dev.buffer.every((b) => b === 1)).toBe(true);
  });

  it('a fully provisioned LU refuses BLOCK ERASE and leaves its data alone', async () => {
    const plain = await setup(64);
    plain.dev.buffer.fill(1);
    expect(sense(await run(plain.core, sanitizeCdb(BLOCK_ERASE)))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 4 } });
    expect(plain.dev.buffer.every((b) => b === 1)).toBe(true);
  });

  it('VPD B1h exists everywhere and reports WABEREQ = 01b only where BLOCK ERASE is offered, WACEREQ = 0', async () => {
    const inq = [0x12, 0x01, 0xb1, 0, 0xff, 0];
    const thin = dataOf(await run((await setup(64, { thin: true })).core, inq));
    expect(thin[7]! >> 6).toBe(1);
    expect((thin[7]! >> 4) & 0x03).toBe(0);
    const plain = dataOf(await run((await setup(64)).core, inq));
    expect(plain[1]).toBe(0xb1);
    expect(plain[7]! >> 4).toBe(0);
  });
});
