import { SgVector } from '../../block/sg.js';
import { isBeyondCapacity, readLba64 } from '../cdb.js';
import { dataOutBuffer } from '../data-out.js';
import { isWriteProtected, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { writeBlocks } from '../lu-write.js';
import { GOOD, type Outcome } from '../outcome.js';
import { withRange } from '../range-lock.js';
import { isSenseReason, Sense, type SenseReason } from '../sense-reasons.js';
import { checkExtent, checkPrologue, LAYOUTS, layoutUsage } from './cdb-layout.js';
import { firstDifference, walkBlocks } from './medium.js';

/** MAXIMUM COMPARE AND WRITE LENGTH (blocks, one byte; VPD B0h). */
export const MAX_COMPARE_AND_WRITE_BLOCKS = 255;

/**
 * COMPARE AND WRITE (SBC-4): the data-out holds N blocks to compare, then N blocks to write.
 * Read, compare and write happen under an exclusive range lock, so no other write to these
 * blocks (from any nexus) can slip in between. A miscompare writes nothing and reports the
 * offset of the first differing byte in the Data-Out buffer. N = 0 does nothing.
 */
function parseCompareAndWrite(cdb: Buffer, lu: LogicalUnit, writeProtected: boolean): ParsedCommand | SenseReason {
  const refused = checkPrologue(cdb, 16, cdb[1]!, writeProtected, true);
  if (refused) return refused;
  const blocks = cdb[13]!;
  if (blocks > Math.min(MAX_COMPARE_AND_WRITE_BLOCKS, lu.maxTransferLength)) return Sense.invalidFieldInCdb(13);
  const lba = readLba64(cdb, 2);
  if (isBeyondCapacity(lba, blocks, lu.numBlocks)) return Sense.lbaOutOfRange;
  const fua = (cdb[1]! & 0x08) !== 0;
  const half = blocks * lu.blockSize;
  return {
    dataOutLength: 2 * half,
    // libiscsi sends 256 blocks as NUMBER OF LOGICAL BLOCKS 0 with 512 blocks of data: refuse, don't no-op.
    onDataOutMismatch: Sense.invalidFieldInCdb(13),
    run: async ({ dataOut, signal }): Promise<Outcome> => {
      if (blocks === 0) return GOOD;
      const data = dataOutBuffer(dataOut, 2 * half);
      if (!data) return Sense.dataPhaseError;
      const verify = data.subarray(0, half);
      const write = new SgVector([data.subarray(half)]);
      return withRange(lu.rangeLock, lba, blocks, true, async () => {
        const miscompare = await walkBlocks(lu, lba, blocks, signal, (medium, at) => {
          const diff = firstDifference(medium, verify.subarray(at, at + medium.length));
          return diff >= 0 ? Sense.miscompare(at + diff) : undefined;
        });
        if (miscompare) return miscompare;
        return writeBlocks(lu, lba, half, fua, write, signal, true);
      });
    },
  };
}

export const compareAndWrite: LuCommandHandler = {
  name: 'COMPARE AND WRITE',
  opcode: 0x89,
  cdbLength: 16,
  usage: [0x89, 0xf8, ...new Array<number>(8).fill(0xff), 0x00, 0x00, 0x00, 0xff, 0x00, 0x00],
  cls: 'write',
  parse: ({ cdb, lu, target }) => parseCompareAndWrite(cdb, lu, isWriteProtected(lu, target)),
};

/**
 * ORWRITE(16) (SBC-4): each block on the medium becomes itself OR the data-out block, under the
 * same exclusive range lock as COMPARE AND WRITE. ORPROTECT is refused (no protection information).
 */
function parseOrWrite(cdb: Buffer, lu: LogicalUnit, writeProtected: boolean): ParsedCommand | SenseReason {
  const refused = checkPrologue(cdb, 16, cdb[1]!, writeProtected, true);
  if (refused) return refused;
  const extent = checkExtent(LAYOUTS[16], cdb, lu, true);
  if (isSenseReason(extent)) return extent;
  const { lba, blocks } = extent;
  const fua = (cdb[1]! & 0x08) !== 0;
  return {
    dataOutLength: blocks * lu.blockSize,
    run: async ({ dataOut, signal }): Promise<Outcome> => {
      if (blocks === 0) return GOOD;
      const data = dataOutBuffer(dataOut, blocks * lu.blockSize);
      if (!data) return Sense.dataPhaseError;
      return withRange(lu.rangeLock, lba, blocks, true, async () => {
        const merged = Buffer.allocUnsafe(data.length);
        const failed = await walkBlocks(lu, lba, blocks, signal, (medium, at) => {
          for (let i = 0; i < medium.length; i++) merged[at + i] = medium[i]! | data[at + i]!;
          return undefined;
        });
        if (failed) return failed;
        return writeBlocks(lu, lba, merged.length, fua, new SgVector([merged]), signal, true);
      });
    },
  };
}

export const orWrite16: LuCommandHandler = {
  name: 'ORWRITE(16)',
  opcode: 0x8b,
  cdbLength: 16,
  usage: layoutUsage(0x8b, LAYOUTS[16], 0xf8), // ORPROTECT (checked), DPO, FUA; LBA; TRANSFER LENGTH
  cls: 'write',
  parse: ({ cdb, lu, target }) => parseOrWrite(cdb, lu, isWriteProtected(lu, target)),
};
