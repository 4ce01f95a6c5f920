import type { CancelSignal } from '../../block/cancel.js';
import { SgVector } from '../../block/sg.js';
import { checkControlByte, isBeyondCapacity } from '../cdb.js';
import { isWriteProtected, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, type Outcome } from '../outcome.js';
import { isSenseReason, Sense, type SenseReason } from '../sense-reasons.js';
import { dataOutBuffer } from '../data-out.js';
import { LAYOUTS, layoutUsage } from './cdb-layout.js';
import { deallocate, maxWriteSameBlocks } from './provisioning.js';
import { writeBlocks } from '../lu-write.js';

/** Bytes of repeated block handed to one block-layer write. */
const CHUNK_BYTES = 1024 * 1024;

interface WriteSameRequest {
  readonly lba: number;
  readonly blocks: number;
  readonly unmap: boolean;
  /** NDOB (16 only): no data-out, the block is all zeros. */
  readonly ndob: boolean;
}

/**
 * WRITE SAME(10/16) (SBC-4). NUMBER OF LOGICAL BLOCKS 0 means "to the end of the medium" (WSNZ = 0),
 * still bounded by MAXIMUM WRITE SAME LENGTH. UNMAP is only honoured on a thin LU (LBPWS/LBPWS10);
 * elsewhere it is refused, so it never looks supported where LBPME = 0. ANCHOR is refused (ANC_SUP = 0);
 * PBDATA/LBDATA (obsolete) and WRPROTECT (no protection information) too.
 */
function decode(cdb: Buffer, lu: LogicalUnit, size: 10 | 16, writeProtected: boolean): WriteSameRequest | SenseReason {
  const control = checkControlByte(cdb, size);
  if (control) return control;
  const flags = cdb[1]!;
  if (flags >> 5 !== 0) return Sense.invalidFieldInCdb(1, 7);
  if (flags & 0x10) return Sense.invalidFieldInCdb(1, 4);
  if (flags & 0x06) return Sense.invalidFieldInCdb(1, 2);
  const unmap = (flags & 0x08) !== 0;
  const ndob = size === 16 && (flags & 0x01) !== 0;
  if (size === 10 && flags & 0x01) return Sense.invalidFieldInCdb(1, 0);
  // A write-protected LU says so before anything about provisioning (libiscsi ReadOnlySBC).
  if (writeProtected) return Sense.writeProtected;
  if (unmap && !lu.thin) return Sense.invalidFieldInCdb(1, 3);
  const layout = LAYOUTS[size];
  const lba = layout.lba(cdb);
  const given = layout.blocks(cdb);
  if (lba > lu.numBlocks) return Sense.lbaOutOfRange;
  const blocks = given === 0 ? lu.numBlocks - lba : given;
  if (blocks > maxWriteSameBlocks(lu)) return Sense.invalidFieldInCdb(layout.lengthByte);
  if (isBeyondCapacity(lba, blocks, lu.numBlocks)) return Sense.lbaOutOfRange;
  return { lba, blocks, unmap, ndob };
}

async function writeRepeated(lu: LogicalUnit, req: WriteSameRequest, block: Buffer, signal: CancelSignal): Promise<Outcome> {
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / lu.blockSize));
  // One contiguous buffer of the block repeated (Buffer.fill repeats a Buffer value), reused for every chunk.
  const chunk = Buffer.allocUnsafe(Math.min(perChunk, req.blocks) * lu.blockSize).fill(block);
  for (let done = 0; done < req.blocks; done += perChunk) {
    const n = Math.min(perChunk, req.blocks - done);
    const data = new SgVector([chunk.subarray(0, n * lu.blockSize)]);
    const outcome = await writeBlocks(lu, req.lba + done, n * lu.blockSize, false, data, signal);
    if (outcome.kind !== 'good') return outcome;
  }
  return GOOD;
}

async function runWriteSame(lu: LogicalUnit, req: WriteSameRequest, block: Buffer, signal: CancelSignal): Promise<Outcome> {
  if (req.blocks === 0) return GOOD;
  // UNMAP = 1 deallocates whatever the block holds (as LIO does, and libiscsi's UnmapUntilEnd expects:
  // the blocks then read back as zeros, LBPRZ). Without LBPRZ deallocated blocks could read as
  // anything: the data is written instead, which SBC-4 allows a device server to do.
  if (req.unmap && lu.lbprz) return deallocate(lu, [{ lba: req.lba, blocks: req.blocks }]);
  return writeRepeated(lu, req, block, signal);
}

function parseWriteSame(cdb: Buffer, lu: LogicalUnit, size: 10 | 16, writeProtected: boolean): ParsedCommand | SenseReason {
  const req = decode(cdb, lu, size, writeProtected);
  if (isSenseReason(req)) return req;
  // Exactly one block of data-out (none with NDOB): a buffer of any other size is refused rather than
  // trimmed, since it cannot be what the initiator meant (libiscsi WriteSame*.InvalidDataOutSize).
  const onDataOutMismatch = Sense.invalidFieldInCommandIu;
  if (req.ndob) return { dataOutLength: 0, onDataOutMismatch, run: ({ signal }) => runWriteSame(lu, req, Buffer.alloc(lu.blockSize), signal) };
  return {
    dataOutLength: lu.blockSize,
    onDataOutMismatch,
    run: ({ dataOut, signal }) => {
      const block = dataOutBuffer(dataOut, lu.blockSize);
      if (!block) return Sense.dataPhaseError;
      return runWriteSame(lu, req, block, signal);
    },
  };
}

export const writeSame10: LuCommandHandler = {
  name: 'WRITE SAME(10)',
  opcode: 0x41,
  cdbLength: 10,
  usage: layoutUsage(0x41, LAYOUTS[10], 0xfe), // WRPROTECT, ANCHOR, UNMAP, PBDATA, LBDATA (checked); LBA; NUMBER OF LOGICAL BLOCKS
  cls: 'write',
  parse: ({ cdb, lu, target }) => parseWriteSame(cdb, lu, 10, isWriteProtected(lu, target)),
};

export const writeSame16: LuCommandHandler = {
  name: 'WRITE SAME(16)',
  opcode: 0x93,
  cdbLength: 16,
  usage: layoutUsage(0x93, LAYOUTS[16], 0xff), // as (10), and NDOB
  cls: 'write',
  parse: ({ cdb, lu, target }) => parseWriteSame(cdb, lu, 16, isWriteProtected(lu, target)),
};
