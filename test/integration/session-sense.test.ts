/**
 * Sense the iSCSI session raises itself (a Data-Out sequence error ends the command at ERL 0)
 * comes in the format the LU's D_SENSE asks for, set over the wire with MODE SELECT: descriptor
 * (72h) on the LU that has it, fixed (70h) on one that does not.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '../../src/iscsi/opcodes.js';
import { opcodeOf } from '../../src/iscsi/pdu.js';
import { testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import * as P from '../helpers/initiator-pdus.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const CHECK_CONDITION = 0x02;
/** Control mode page (0Ah) with D_SENSE set, behind a MODE SELECT(6) header. */
const D_SENSE_ON = Buffer.from([0, 0, 0, 0, 0x0a, 0x0a, 0x04, 0x10, 0x00, 0x40, 0, 0, 0xff, 0xff, 0, 0]);

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget();
});
afterAll(() => t?.stop());

/** A WRITE(10) whose R2T is answered with half its data and the F bit: DATA PHASE ERROR from the session. */
async function shortDataOut(i: TestInitiator, lun: number, lba: number): Promise<Buffer> {
  const itt = i.allocItt();
  const { bhs } = P.scsiCommand({ final: true, read: false, write: true, lun, itt, edtl: 8192, cmdSN: i.nextCmdSN(), expStatSN: i.expStatSN, cdb: write10(lba, 16), dataLength: 0 });
  const rsp = await i.request(
    itt,
    () => i.send(bhs),
    (p) => {
      if (opcodeOf(p.bhs) !== Op.R2T) return;
      const half = randomBytes(4096);
      i.send(P.dataOut({ final: true, lun, itt, ttt: p.bhs.readUInt32BE(20), expStatSN: i.expStatSN, dataSN: 0, bufferOffset: 0, dataLength: half.length }), half);
    },
  );
  expect(rsp.bhs[3]).toBe(CHECK_CONDITION);
  const data = rsp.data.toBuffer();
  return data.subarray(2, 2 + data.readUInt16BE(0));
}

describe('session-level sense and D_SENSE', () => {
  it('a Data-Out sequence error is reported in descriptor format on an LU with D_SENSE, fixed on the others', async () => {
    const i = await TestInitiator.connect(t.port);
    expect((await i.login({ targetName: TEST_IQN, keys: [['InitialR2T', 'Yes'], ['ImmediateData', 'No']] })).status).toEqual([0, 0]);
    for (const lun of [0, 1]) await i.command({ lun, cdb: testUnitReady() }); // the power-on unit attentions
    const select = await i.command({ lun: 0, cdb: Buffer.from([0x15, 0x10, 0, 0, D_SENSE_ON.length, 0]), write: D_SENSE_ON });
    expect(select.status).toBe(0);

    const descriptor = await shortDataOut(i, 0, 100);
    expect(descriptor[0]).toBe(0x72);
    expect([descriptor[1]! & 0x0f, descriptor[2], descriptor[3]]).toEqual([0x0b, 0x4b, 0x00]);

    const fixed = await shortDataOut(i, 1, 100);
    expect(fixed[0]).toBe(0x70);
    expect([fixed[2]! & 0x0f, fixed[12], fixed[13]]).toEqual([0x0b, 0x4b, 0x00]);
    i.close();
  });
});
