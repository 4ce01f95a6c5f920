import { checkControlByte } from '../cdb.js';
import { parameterData, type LuCommandHandler } from '../handler.js';

/**
 * READ DEFECT DATA(10/12) (SBC-4): a file has no grown or primary defects, so the answer is the
 * header alone, the requested lists marked valid (PLISTV/GLISTV) and empty, in the requested format.
 */
export function defectDataHeader(flags: number, twelve: boolean): Buffer {
  const b = Buffer.alloc(twelve ? 8 : 4);
  b[1] = flags & 0x1f; // PLISTV (bit 4) = REQ_PLIST, GLISTV (bit 3) = REQ_GLIST, DEFECT LIST FORMAT
  return b; // DEFECT LIST LENGTH (and, for 12, GENERATION CODE) zero
}

export const readDefectData10: LuCommandHandler = {
  name: 'READ DEFECT DATA(10)',
  opcode: 0x37,
  cdbLength: 10,
  usage: [0x37, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  cls: 'other',
  parse({ cdb }) {
    const control = checkControlByte(cdb, 10);
    if (control) return control;
    const allocation = cdb.readUInt16BE(7);
    return parameterData(defectDataHeader(cdb[2], false), allocation);
  },
};

export const readDefectData12: LuCommandHandler = {
  name: 'READ DEFECT DATA(12)',
  opcode: 0xb7,
  cdbLength: 12,
  usage: [0xb7, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  cls: 'other',
  parse({ cdb }) {
    const control = checkControlByte(cdb, 12);
    if (control) return control;
    const allocation = cdb.readUInt32BE(6);
    return parameterData(defectDataHeader(cdb[1], true), allocation);
  },
};
