import { checkControlByte } from '../cdb.js';
import { isWriteProtected, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, type Outcome } from '../outcome.js';
import { Sense, type SenseReason } from '../sense-reasons.js';
import { dataOutBuffer } from '../data-out.js';
import { deallocate, maxUnmapBlocks, ProvisioningLimits } from './provisioning.js';

const HEADER = 8;
const DESCRIPTOR = 16;

export interface UnmapRange {
  readonly lba: number;
  readonly blocks: number;
}

/**
 * The UNMAP parameter list (SBC-4 5.32.2): an 8-byte header, then 16-byte block descriptors
 * (LBA, NUMBER OF LOGICAL BLOCKS). A partial trailing descriptor is ignored. Limits are those of VPD B0h.
 */
export function parseUnmapList(lu: LogicalUnit, list: Buffer): UnmapRange[] | SenseReason {
  if (list.length < HEADER) return Sense.parameterListLengthError;
  const described = list.readUInt16BE(2);
  const count = Math.floor(Math.min(described, list.length - HEADER) / DESCRIPTOR);
  if (count > ProvisioningLimits.maxUnmapDescriptors) return Sense.invalidFieldInParameterList(2);
  const ranges: UnmapRange[] = [];
  let total = 0;
  const maxBlocks = maxUnmapBlocks(lu);
  for (let i = 0; i < count; i++) {
    const at = HEADER + i * DESCRIPTOR;
    const hi = list.readUInt32BE(at);
    const lba = hi >= 0x200000 ? Number.POSITIVE_INFINITY : hi * 0x1_0000_0000 + list.readUInt32BE(at + 4);
    const blocks = list.readUInt32BE(at + 8);
    if (lba > lu.numBlocks || blocks > lu.numBlocks - lba) return Sense.lbaOutOfRange;
    total += blocks;
    if (total > maxBlocks) return Sense.invalidFieldInParameterList(at + 8);
    ranges.push({ lba, blocks });
  }
  return ranges;
}

/** UNMAP (SBC-4): only on a thin LU (LBPU); ANCHOR is refused (ANC_SUP = 0). */
function parseUnmap(cdb: Buffer, lu: LogicalUnit, writeProtected: boolean): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, 10);
  if (control) return control;
  // A write-protected LU says so first, whether or not it is thin (libiscsi ReadOnlySBC).
  if (writeProtected) return Sense.writeProtected;
  if (!lu.thin) return Sense.invalidOpcode;
  if (cdb[1]! & 0x01) return Sense.invalidFieldInCdb(1, 0);
  const length = cdb.readUInt16BE(7);
  // SBC-4: a list too short to hold its header is an error; no list at all is not.
  if (length > 0 && length < HEADER) return Sense.parameterListLengthError;
  return {
    dataOutLength: length,
    run: async ({ dataOut }): Promise<Outcome> => {
      if (length === 0) return GOOD;
      const list = dataOutBuffer(dataOut, length);
      if (!list) return Sense.dataPhaseError;
      const ranges = parseUnmapList(lu, list);
      if (!Array.isArray(ranges)) return ranges;
      return deallocate(lu, ranges);
    },
  };
}

export const unmap: LuCommandHandler = {
  name: 'UNMAP',
  opcode: 0x42,
  cdbLength: 10,
  usage: [0x42, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  cls: 'other',
  parse: ({ cdb, lu, target }) => parseUnmap(cdb, lu, isWriteProtected(lu, target)),
};
