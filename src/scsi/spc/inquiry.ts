import { asciiField, checkControlByte, truncateToAllocation } from '../cdb.js';
import { immediate, type AnyLunCommandHandler } from '../handler.js';
import { DEFAULT_PRODUCT, DEFAULT_REVISION, DEFAULT_VENDOR, type LogicalUnit } from '../logical-unit.js';
import { goodData } from '../outcome.js';
import { Sense } from '../sense-reasons.js';
import { peripheralByte, vpdPage } from './vpd.js';

export const STANDARD_INQUIRY_LENGTH = 96;
/** Version descriptors (SPC-4): SAM-5, SPC-4, SBC-3, each "no version claimed". */
export const VERSION_DESCRIPTORS: readonly number[] = [0x00a0, 0x0460, 0x04c0];

/** Standard INQUIRY data (SPC-4): SPC-4, response format 2, HISUP, CMDQUE, 96 bytes. */
export function standardInquiry(lu: LogicalUnit | undefined): Buffer {
  const b = Buffer.alloc(STANDARD_INQUIRY_LENGTH);
  b[0] = peripheralByte(lu);
  if (lu?.removable) b[1] = 0x80; // RMB
  b[2] = 0x06; // VERSION: SPC-4
  b[3] = 0x10 | 0x02; // HISUP | RESPONSE DATA FORMAT 2
  b[4] = STANDARD_INQUIRY_LENGTH - 5; // ADDITIONAL LENGTH
  if (lu) b[5] = 0x08; // 3PC: EXTENDED COPY between this target's LUs (spc/xcopy.ts)
  b[7] = 0x02; // CMDQUE: full task management with SIMPLE/ORDERED/HEAD OF QUEUE
  asciiField(lu?.vendor ?? DEFAULT_VENDOR, 8).copy(b, 8);
  asciiField(lu?.product ?? DEFAULT_PRODUCT, 16).copy(b, 16);
  asciiField(lu?.revision ?? DEFAULT_REVISION, 4).copy(b, 32);
  VERSION_DESCRIPTORS.forEach((v, i) => b.writeUInt16BE(v, 58 + 2 * i));
  return b;
}

/**
 * INQUIRY (SPC-4). CMDDT is obsolete and refused; EVPD = 0 with a page code is refused;
 * an unsupported VPD page is an INVALID FIELD IN CDB pointing at the PAGE CODE.
 */
export const inquiry: AnyLunCommandHandler = {
  name: 'INQUIRY',
  opcode: 0x12,
  cdbLength: 6,
  usage: [0x12, 0x01, 0xff, 0xff, 0xff, 0x00],
  cls: 'other',
  anyLun: true,
  bypassesUnitAttention: true,
  parse({ cdb, lu, nexus, target }) {
    const control = checkControlByte(cdb, 6);
    if (control) return control;
    if (cdb[1] & 0x02) return Sense.invalidFieldInCdb(1, 1);
    const evpd = (cdb[1] & 0x01) !== 0;
    const pageCode = cdb[2];
    const allocation = cdb.readUInt16BE(3);
    if (!evpd) {
      if (pageCode !== 0) return Sense.invalidFieldInCdb(2);
      return immediate(() => goodData(truncateToAllocation(standardInquiry(lu), allocation)));
    }
    const data = vpdPage(pageCode, lu, nexus, target);
    if (!data) return Sense.invalidFieldInCdb(2);
    return immediate(goodData(truncateToAllocation(data, allocation)));
  },
};
