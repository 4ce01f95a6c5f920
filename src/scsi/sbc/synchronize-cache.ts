import { blockFailure } from '../block-failure.js';
import { checkControlByte } from '../cdb.js';
import type { LuCommandHandler, ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, type Outcome } from '../outcome.js';
import { isSenseReason, type SenseReason } from '../sense-reasons.js';
import { checkExtent, LAYOUTS, layoutUsage } from './cdb-layout.js';

/**
 * SYNCHRONIZE CACHE(10/16): the whole device is flushed whatever the range (the backstore
 * has one cache); the range is still checked (NUMBER OF LOGICAL BLOCKS = 0: from LBA to the end
 * of the medium). IMMED is honoured by simply finishing the flush first, which the standard allows.
 */
function parseSync(cdb: Buffer, lu: LogicalUnit, size: 10 | 16): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, size);
  if (control) return control;
  const extent = checkExtent(LAYOUTS[size], cdb, lu, false);
  if (isSenseReason(extent)) return extent;
  return { dataOutLength: 0, run: () => flush(lu, extent.lba) };
}

async function flush(lu: LogicalUnit, lba: number): Promise<Outcome> {
  try {
    await lu.device.flush();
    return GOOD;
  } catch (err) {
    return blockFailure(err, 'write', lba);
  }
}

function synchronizeCache(size: 10 | 16, opcode: number): LuCommandHandler {
  return {
    name: `SYNCHRONIZE CACHE(${size})`,
    opcode,
    cdbLength: size,
    usage: layoutUsage(opcode, LAYOUTS[size], 0x02), // IMMED, LBA, NUMBER OF LOGICAL BLOCKS
    cls: 'other',
    parse: ({ cdb, lu }) => parseSync(cdb, lu, size),
  };
}

export const synchronizeCache10 = synchronizeCache(10, 0x35);
export const synchronizeCache16 = synchronizeCache(16, 0x91);
