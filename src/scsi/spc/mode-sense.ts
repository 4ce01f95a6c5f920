import { checkControlByte } from '../cdb.js';
import { isWriteProtected, parameterData, type LuCommandHandler, type ParsedCommand, type TargetInfo } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { Sense, type SenseReason } from '../sense-reasons.js';
import { MODE_PAGE_ALL, MODE_PAGES, type ModePage, type PageControl } from './mode-pages.js';

const PAGE_CONTROLS: readonly (PageControl | 'saved')[] = ['current', 'changeable', 'default', 'saved'];

interface ModeSenseRequest {
  readonly ten: boolean;
  readonly dbd: boolean;
  readonly llbaa: boolean;
  readonly pc: PageControl;
  readonly pages: readonly ModePage[];
  readonly allocation: number;
}

/** DEVICE-SPECIFIC PARAMETER of a direct-access LU (SBC-3): WP, and DPOFUA since FUA/DPO are honoured. */
export function deviceSpecificParameter(writeProtected: boolean): number {
  return (writeProtected ? 0x80 : 0) | 0x10;
}

/** Short (8-byte) or long (16-byte) LBA mode parameter block descriptor; zeros for "changeable". */
function blockDescriptor(lu: LogicalUnit, long: boolean, pc: PageControl): Buffer {
  const b = Buffer.alloc(long ? 16 : 8);
  if (pc === 'changeable') return b;
  if (long) {
    b.writeBigUInt64BE(BigInt(lu.numBlocks), 0);
    b.writeUInt32BE(lu.blockSize, 12);
  } else {
    b.writeUInt32BE(Math.min(lu.numBlocks, 0xffffffff), 0);
    b.writeUIntBE(lu.blockSize, 5, 3);
  }
  return b;
}

export function modeSenseData(lu: LogicalUnit, req: Omit<ModeSenseRequest, 'allocation'>, writeProtected = lu.readOnly): Buffer {
  const headerLength = req.ten ? 8 : 4;
  const descriptor = req.dbd ? Buffer.alloc(0) : blockDescriptor(lu, req.ten && req.llbaa, req.pc);
  const pages = req.pages.map((p) => p.build(lu, req.pc));
  const b = Buffer.concat([Buffer.alloc(headerLength), descriptor, ...pages]);
  if (req.ten) {
    b.writeUInt16BE(b.length - 2, 0); // MODE DATA LENGTH excludes itself
    b[3] = deviceSpecificParameter(writeProtected);
    if (descriptor.length === 16) b[4] = 0x01; // LONGLBA
    b.writeUInt16BE(descriptor.length, 6);
  } else {
    b[0] = b.length - 1;
    b[2] = deviceSpecificParameter(writeProtected);
    b[3] = descriptor.length;
  }
  return b;
}

/** MODE SENSE(6)/(10) (SPC-4). Pages 08h, 0Ah and 3Fh; subpages 00h (and FFh with 3Fh). */
function parseModeSense(cdb: Buffer, lu: LogicalUnit, ten: boolean, target: TargetInfo): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, ten ? 10 : 6);
  if (control) return control;
  const pc = PAGE_CONTROLS[cdb[2] >> 6];
  if (pc === 'saved') return Sense.savingParametersNotSupported(2, 7);
  const pageCode = cdb[2] & 0x3f;
  const subpage = cdb[3];
  let pages: readonly ModePage[];
  if (pageCode === MODE_PAGE_ALL) {
    if (subpage !== 0x00 && subpage !== 0xff) return Sense.invalidFieldInCdb(3);
    pages = MODE_PAGES;
  } else {
    const page = MODE_PAGES.find((p) => p.code === pageCode);
    if (!page) return Sense.invalidFieldInCdb(2, 5);
    if (subpage !== 0) return Sense.invalidFieldInCdb(3);
    pages = [page];
  }
  const req: ModeSenseRequest = {
    ten,
    dbd: (cdb[1] & 0x08) !== 0,
    llbaa: ten && (cdb[1] & 0x10) !== 0,
    pc,
    pages,
    allocation: ten ? cdb.readUInt16BE(7) : cdb[4],
  };
  return parameterData(() => modeSenseData(lu, req, isWriteProtected(lu, target)), req.allocation);
}

export const modeSense6: LuCommandHandler = {
  name: 'MODE SENSE(6)',
  opcode: 0x1a,
  cdbLength: 6,
  usage: [0x1a, 0x08, 0xff, 0xff, 0xff, 0x00],
  cls: 'other',
  parse: ({ cdb, lu, target }) => parseModeSense(cdb, lu, false, target),
};

export const modeSense10: LuCommandHandler = {
  name: 'MODE SENSE(10)',
  opcode: 0x5a,
  cdbLength: 10,
  usage: [0x5a, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  cls: 'other',
  parse: ({ cdb, lu, target }) => parseModeSense(cdb, lu, true, target),
};
