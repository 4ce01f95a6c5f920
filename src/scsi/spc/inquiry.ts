import { asciiField, checkControlByte } from '../cdb.js';
import { ANSWERS_ANY_LUN, parameterData, type AnyLunCommandHandler, type TargetInfo } from '../handler.js';
import { DEFAULT_PRODUCT, DEFAULT_REVISION, DEFAULT_VENDOR, type LogicalUnit } from '../logical-unit.js';
import { Sense } from '../sense-reasons.js';
import { peripheralByte, vpdPage } from './vpd.js';

export const STANDARD_INQUIRY_LENGTH = 96;
/** Version descriptors (SPC-4), each "no version claimed": SAM-5, SPC-4, then the device type's command set. */
const VERSION_SAM5 = 0x00a0;
const VERSION_SPC4 = 0x0460;
/** TPGS = 01b: implicit asymmetric access only (alua.ts), when the core has an ALUA provider. */
const TPGS_IMPLICIT = 0x10;

/** Standard INQUIRY data (SPC-4): SPC-4, response format 2, HISUP, CMDQUE, 96 bytes; TPGS 01b with ALUA. */
export function standardInquiry(lu: LogicalUnit | undefined, target: TargetInfo): Buffer {
  const b = Buffer.alloc(STANDARD_INQUIRY_LENGTH);
  b[0] = peripheralByte(lu, target);
  if (lu?.removable) b[1] = 0x80; // RMB
  b[2] = 0x06; // VERSION: SPC-4
  b[3] = 0x10 | 0x02; // HISUP | RESPONSE DATA FORMAT 2
  b[4] = STANDARD_INQUIRY_LENGTH - 5; // ADDITIONAL LENGTH
  if (lu) b[5] = 0x08 | (target.alua ? TPGS_IMPLICIT : 0); // 3PC: EXTENDED COPY between this target's LUs (spc/xcopy.ts)
  b[7] = 0x02; // CMDQUE: full task management with SIMPLE/ORDERED/HEAD OF QUEUE
  asciiField(lu?.vendor ?? DEFAULT_VENDOR, 8).copy(b, 8);
  asciiField(lu?.product ?? DEFAULT_PRODUCT, 16).copy(b, 16);
  asciiField(lu?.revision ?? DEFAULT_REVISION, 4).copy(b, 32);
  [VERSION_SAM5, VERSION_SPC4, target.deviceType.commandSetVersion].forEach((v, i) => b.writeUInt16BE(v, 58 + 2 * i));
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
  ...ANSWERS_ANY_LUN,
  parse({ cdb, lu, nexus, target }) {
    const control = checkControlByte(cdb, 6);
    if (control) return control;
    if (cdb[1] & 0x02) return Sense.invalidFieldInCdb(1, 1);
    const evpd = (cdb[1] & 0x01) !== 0;
    const pageCode = cdb[2];
    const allocation = cdb.readUInt16BE(3);
    if (!evpd) {
      if (pageCode !== 0) return Sense.invalidFieldInCdb(2);
      return parameterData(() => standardInquiry(lu, target), allocation);
    }
    const data = vpdPage(pageCode, lu, nexus, target);
    if (!data) return Sense.invalidFieldInCdb(2);
    return parameterData(data, allocation);
  },
};
