import { checkControlByte, isBeyondCapacity, readLba64 } from '../cdb.js';
import { immediate, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD } from '../outcome.js';
import { Sense, type SenseReason } from '../sense-reasons.js';

/**
 * PRE-FETCH(10/16) (SBC-4): the range is checked, nothing is read ahead — the host page cache
 * does its own read-ahead — so the answer is GOOD ("not all blocks are in cache"), never CONDITION MET.
 * IMMED is accepted: the command has nothing to wait for anyway.
 */
function parsePrefetch(cdb: Buffer, lu: LogicalUnit, size: 10 | 16): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, size);
  if (control) return control;
  const lba = size === 10 ? cdb.readUInt32BE(2) : readLba64(cdb, 2);
  const blocks = size === 10 ? cdb.readUInt16BE(7) : cdb.readUInt32BE(10);
  if (isBeyondCapacity(lba, blocks, lu.numBlocks)) return Sense.lbaOutOfRange;
  return immediate(GOOD);
}

export const prefetch10: LuCommandHandler = {
  name: 'PRE-FETCH(10)',
  opcode: 0x34,
  cdbLength: 10,
  usage: [0x34, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x00],
  cls: 'other',
  parse: ({ cdb, lu }) => parsePrefetch(cdb, lu, 10),
};

export const prefetch16: LuCommandHandler = {
  name: 'PRE-FETCH(16)',
  opcode: 0x90,
  cdbLength: 16,
  usage: [0x90, 0x02, ...new Array<number>(12).fill(0xff), 0x00, 0x00],
  cls: 'other',
  parse: ({ cdb, lu }) => parsePrefetch(cdb, lu, 16),
};
