import { checkControlByte } from '../cdb.js';
import { ANSWERS_ANY_LUN, parameterData, type AnyLunCommandHandler } from '../handler.js';
import { Sense } from '../sense-reasons.js';

/** SAM-5: peripheral device addressing below 256, flat space addressing up to 16383. */
export function encodeLun(lun: number, into: Buffer, at: number): void {
  if (lun < 256) {
    into[at] = 0x00;
    into[at + 1] = lun;
  } else {
    into[at] = 0x40 | (lun >> 8);
    into[at + 1] = lun & 0xff;
  }
}

const SELECT_REPORTS = new Set([0x00, 0x01, 0x02, 0x10, 0x11, 0x12]);

export function reportLunsData(luns: readonly number[]): Buffer {
  const b = Buffer.alloc(8 + 8 * luns.length);
  b.writeUInt32BE(8 * luns.length, 0);
  luns.forEach((lun, i) => encodeLun(lun, b, 8 + 8 * i));
  return b;
}

/**
 * REPORT LUNS (SPC-4/SPC-5), answered for any LUN. SELECT REPORT 00h and 02h list every LU;
 * 01h asks for well-known LUs, 10h-12h for administrative LUs and conglomerates: there are none,
 * so those lists are empty.
 */
export const reportLuns: AnyLunCommandHandler = {
  name: 'REPORT LUNS',
  opcode: 0xa0,
  cdbLength: 12,
  usage: [0xa0, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  ...ANSWERS_ANY_LUN,
  parse({ cdb, target }) {
    const control = checkControlByte(cdb, 12);
    if (control) return control;
    const select = cdb[2];
    if (!SELECT_REPORTS.has(select)) return Sense.invalidFieldInCdb(2);
    const allocation = cdb.readUInt32BE(6);
    if (allocation < 16) return Sense.invalidFieldInCdb(6);
    const luns = select === 0x00 || select === 0x02 ? target.lunNumbers : [];
    return parameterData(() => reportLunsData(luns), allocation);
  },
};
