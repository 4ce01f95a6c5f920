import { checkControlByte, isBeyondCapacity, readLba64 } from '../cdb.js';
import { blockFailure } from '../block-failure.js';
import type { LuCommandHandler, ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, type Outcome } from '../outcome.js';
import { Sense, type SenseReason } from '../sense-reasons.js';

/**
 * SYNCHRONIZE CACHE(10/16): the whole device is flushed whatever the range (the backstore
 * has one cache); the range is still checked. IMMED is honoured by simply finishing the
 * flush first, which the standard allows.
 */
function parseSync(cdb: Buffer, lu: LogicalUnit, size: 10 | 16): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, size);
  if (control) return control;
  const lba = size === 10 ? cdb.readUInt32BE(2) : readLba64(cdb, 2);
  // NUMBER OF LOGICAL BLOCKS = 0: from LBA to the end of the medium.
  const blocks = size === 10 ? cdb.readUInt16BE(7) : cdb.readUInt32BE(10);
  if (isBeyondCapacity(lba, blocks, lu.numBlocks)) return Sense.lbaOutOfRange;
  return { dataOutLength: 0, run: () => flush(lu, lba) };
}

async function flush(lu: LogicalUnit, lba: number): Promise<Outcome> {
  try {
    await lu.device.flush();
    return GOOD;
  } catch (err) {
    return blockFailure(err, 'write', lba);
  }
}

export const synchronizeCache10: LuCommandHandler = {
  name: 'SYNCHRONIZE CACHE(10)',
  opcode: 0x35,
  cdbLength: 10,
  usage: [0x35, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x00],
  cls: 'other',
  parse: ({ cdb, lu }) => parseSync(cdb, lu, 10),
};

export const synchronizeCache16: LuCommandHandler = {
  name: 'SYNCHRONIZE CACHE(16)',
  opcode: 0x91,
  cdbLength: 16,
  usage: [0x91, 0x02, ...new Array<number>(12).fill(0xff), 0x00, 0x00],
  cls: 'other',
  parse: ({ cdb, lu }) => parseSync(cdb, lu, 16),
};
