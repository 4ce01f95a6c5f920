import { AtomicJournal } from '../../block/atomic-journal.js';
import { BlockError } from '../../block/device.js';
import type { SgVector } from '../../block/sg.js';
import { blockFailure } from '../block-failure.js';
import { isBeyondCapacity, readLba64 } from '../cdb.js';
import { dataOutVector } from '../data-out.js';
import { isWriteProtected, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, TASK_ABORTED, type Outcome } from '../outcome.js';
import { Sense, type SenseReason } from '../sense-reasons.js';
import { withRange } from '../range-lock.js';
import { checkPrologue, LAYOUTS, layoutUsage } from './cdb-layout.js';

export const WRITE_ATOMIC_16 = 0x9c;

/** VPD B0h atomic fields of an LU that offers WRITE ATOMIC(16) (in blocks). */
export interface AtomicLimits {
  readonly maxBlocks: number;
  readonly alignment: number;
  readonly granularity: number;
}

/** The LU's atomic limits, or undefined where WRITE ATOMIC(16) is not offered (no journal). */
export function atomicLimits(lu: LogicalUnit | undefined): AtomicLimits | undefined {
  if (!lu?.atomicJournal) return undefined;
  // One journal slot bounds a write; never above MAXIMUM TRANSFER LENGTH (SBC-4).
  return { maxBlocks: Math.min(lu.maxTransferLength, AtomicJournal.maxBlocks(lu.blockSize)), alignment: 1, granularity: 1 };
}

/** A pool wait that timed out after the record is durable is retried: the write must land whole. */
const POOL_RETRIES = 20;

/**
 * WRITE ATOMIC(16) (SBC-4): WRITE(16)'s fields with a 16-bit TRANSFER LENGTH (bytes 12-13) and
 * an ATOMIC BOUNDARY (bytes 10-11, must be 0: we report no MAXIMUM ATOMIC BOUNDARY SIZE). The
 * blocks are written all or nothing: against other commands by holding them exclusively in the
 * range lock (plain writes and, on such LUs, READs take it shared), against a crash or a reset
 * by the LU's journal (block/atomic-journal.ts). DPO is accepted; the data always reaches the
 * medium durably before status (the journal record may only be invalidated after that), so FUA
 * changes nothing. The range is checked before the atomic length, so that a write running past
 * the end is LBA OUT OF RANGE whatever its length (libiscsi's WriteAtomic16.BeyondEol).
 */
function parseWriteAtomic(cdb: Buffer, lu: LogicalUnit, writeProtected: boolean): ParsedCommand | SenseReason {
  const limits = atomicLimits(lu);
  const journal = lu.atomicJournal;
  if (!limits || !journal) return Sense.invalidOpcode;
  const refused = checkPrologue(cdb, 16, cdb[1]!, writeProtected, true);
  if (refused) return refused;
  const blocks = cdb.readUInt16BE(12);
  const lba = readLba64(cdb, 2);
  if (isBeyondCapacity(lba, blocks, lu.numBlocks)) return Sense.lbaOutOfRange;
  if (cdb.readUInt16BE(10) !== 0) return Sense.invalidFieldInCdb(10);
  if (blocks > limits.maxBlocks || blocks % limits.granularity !== 0) return Sense.invalidFieldInCdb(12);
  if (lba % limits.alignment !== 0) return Sense.invalidFieldInCdb(2);
  const length = blocks * lu.blockSize;
  return {
    // No dataOutGranularity: an initiator expecting less than the whole write is refused, not cut short.
    dataOutLength: length,
    run: async ({ dataOut, signal }): Promise<Outcome> => {
      if (blocks === 0) return GOOD;
      const data = dataOutVector(dataOut, length);
      if (!data) return Sense.dataPhaseError;
      return withRange(lu.rangeLock, lba, blocks, true, async () => {
        // Aborted while waiting for the blocks: nothing is journaled yet, nothing lands.
        if (signal.aborted) return TASK_ABORTED;
        try {
          await journal.commit(lba, blocks, lu.blockSize, data, () => writeWhole(lu, lba, data));
          return GOOD;
        } catch (err) {
          return blockFailure(err, 'write', lba);
        }
      });
    },
  };
}

/** The LU write after the record is durable: FUA, and deaf to aborts (it must finish whole). */
async function writeWhole(lu: LogicalUnit, lba: number, data: SgVector): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await lu.device.write(lba * lu.blockSize, data, { fua: true });
      return;
    } catch (err) {
      if (!(err instanceof BlockError && err.code === 'POOL_EXHAUSTED') || attempt >= POOL_RETRIES) throw err;
    }
  }
}

export const writeAtomic16: LuCommandHandler = {
  name: 'WRITE ATOMIC(16)',
  opcode: WRITE_ATOMIC_16,
  cdbLength: 16,
  // WRPROTECT (checked), DPO, FUA; LBA; ATOMIC BOUNDARY (checked); TRANSFER LENGTH.
  usage: layoutUsage(WRITE_ATOMIC_16, LAYOUTS[16], 0xf8),
  cls: 'write',
  supported: (lu) => atomicLimits(lu) !== undefined,
  parse: ({ cdb, lu, target }) => parseWriteAtomic(cdb, lu, isWriteProtected(lu, target)),
};
