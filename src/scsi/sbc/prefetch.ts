import { checkControlByte } from '../cdb.js';
import { immediate, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD } from '../outcome.js';
import { isSenseReason, type SenseReason } from '../sense-reasons.js';
import { checkExtent, LAYOUTS, layoutUsage } from './cdb-layout.js';

/**
 * PRE-FETCH(10/16) (SBC-4): the range is checked, nothing is read ahead — the host page cache
 * does its own read-ahead — so the answer is GOOD ("not all blocks are in cache"), never CONDITION MET.
 * IMMED is accepted: the command has nothing to wait for anyway.
 */
function parsePrefetch(cdb: Buffer, lu: LogicalUnit, size: 10 | 16): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, size);
  if (control) return control;
  const extent = checkExtent(LAYOUTS[size], cdb, lu, false);
  return isSenseReason(extent) ? extent : immediate(GOOD);
}

function prefetch(size: 10 | 16, opcode: number): LuCommandHandler {
  return {
    name: `PRE-FETCH(${size})`,
    opcode,
    cdbLength: size,
    usage: layoutUsage(opcode, LAYOUTS[size], 0x02), // IMMED, LBA, PREFETCH LENGTH
    cls: 'other',
    parse: ({ cdb, lu }) => parsePrefetch(cdb, lu, size),
  };
}

export const prefetch10 = prefetch(10, 0x34);
export const prefetch16 = prefetch(16, 0x90);
