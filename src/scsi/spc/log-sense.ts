import { checkControlByte, codedPage } from '../cdb.js';
import { parameterData, type LuCommandHandler } from '../handler.js';
import { Sense } from '../sense-reasons.js';

const PAGE_SUPPORTED = 0x00;
const SUBPAGE_ALL = 0xff;

/** Log page: PAGE CODE (with SPF when a subpage is named), SUBPAGE CODE, PAGE LENGTH, parameters. */
function logPage(page: number, subpage: number, body: Buffer): Buffer {
  return codedPage(((page | (subpage !== 0 ? 0x40 : 0)) << 8) | subpage, body);
}

/**
 * Supported log pages (00h/00h) and supported pages and subpages (00h/FFh): the only log pages
 * this target keeps. Counters live in the metrics endpoint, not in log pages.
 */
export function logSenseData(page: number, subpage: number): Buffer | undefined {
  if (page !== PAGE_SUPPORTED) return undefined;
  if (subpage === 0) return logPage(page, 0, Buffer.from([PAGE_SUPPORTED]));
  if (subpage === SUBPAGE_ALL) return logPage(page, SUBPAGE_ALL, Buffer.from([PAGE_SUPPORTED, 0x00, PAGE_SUPPORTED, SUBPAGE_ALL]));
  return undefined;
}

/** LOG SENSE (SPC-4). SP (save parameters) is refused: nothing is saved. */
export const logSense: LuCommandHandler = {
  name: 'LOG SENSE',
  opcode: 0x4d,
  cdbLength: 10,
  usage: [0x4d, 0x01, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00],
  cls: 'other',
  parse({ cdb }) {
    const control = checkControlByte(cdb, 10);
    if (control) return control;
    if (cdb[1] & 0x01) return Sense.invalidFieldInCdb(1, 0);
    const data = logSenseData(cdb[2] & 0x3f, cdb[3]);
    if (!data) return Sense.invalidFieldInCdb(2, 5);
    return parameterData(data, cdb.readUInt16BE(7));
  },
};
