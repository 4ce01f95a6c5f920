import type { CancelSignal } from '../../block/cancel.js';
import type { BlockReadResult } from '../../block/device.js';
import { blockFailure } from '../block-failure.js';
import { blocksOut, isWriteProtected, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { writeBlocks } from '../lu-write.js';
import { GOOD, type Outcome } from '../outcome.js';
import { withRange } from '../range-lock.js';
import { isSenseReason, type SenseReason } from '../sense-reasons.js';
import { checkExtent, checkPrologue, LAYOUTS, layoutUsage, type Extent, type RwLayout } from './cdb-layout.js';

const READ_OPCODES = { 6: 0x08, 10: 0x28, 12: 0xa8, 16: 0x88 } as const;
const WRITE_OPCODES = { 6: 0x0a, 10: 0x2a, 12: 0xaa, 16: 0x8a } as const;

/** Decoded READ/WRITE fields common to both directions. */
interface RwRequest extends Extent {
  readonly fua: boolean;
}

/**
 * Checks shared by reads and writes, in the order a device server meets them: CONTROL byte,
 * RDPROTECT/WRPROTECT (no protection information here), MAXIMUM TRANSFER LENGTH, capacity.
 * DPO is accepted and ignored (the backstore has no cache retention to steer).
 */
function decode(layout: RwLayout, cdb: Buffer, lu: LogicalUnit, isWrite: boolean, writeProtected = false): RwRequest | SenseReason {
  const flags = layout.size === 6 ? 0 : cdb[1];
  const refused = checkPrologue(cdb, layout.cdbLength, flags, writeProtected, isWrite);
  if (refused) return refused;
  const extent = checkExtent(layout, cdb, lu, true);
  if (isSenseReason(extent)) return extent;
  return { lba: extent.lba, blocks: extent.blocks, fua: (flags & 0x08) !== 0 };
}

function usageFor(opcode: number, layout: RwLayout): number[] {
  // READ(6)/WRITE(6): the LBA's top bits share byte 1; no flags.
  if (layout.size === 6) return [opcode, 0x1f, 0xff, 0xff, 0xff, 0x00];
  return layoutUsage(opcode, layout, 0xf8); // RDPROTECT/WRPROTECT (checked), DPO, FUA
}

export function readHandler(size: RwLayout['size']): LuCommandHandler {
  const layout = LAYOUTS[size];
  const opcode = READ_OPCODES[size];
  return {
    name: `READ(${size})`,
    opcode,
    cdbLength: layout.cdbLength,
    usage: usageFor(opcode, layout),
    cls: 'read',
    parse({ cdb, lu }): ParsedCommand | SenseReason {
      const req = decode(layout, cdb, lu, false);
      if (isSenseReason(req)) return req;
      return { dataOutLength: 0, run: ({ signal }) => readBlocks(lu, req, signal) };
    },
  };
}

export function writeHandler(size: RwLayout['size']): LuCommandHandler {
  const layout = LAYOUTS[size];
  const opcode = WRITE_OPCODES[size];
  return {
    name: `WRITE(${size})`,
    opcode,
    cdbLength: layout.cdbLength,
    usage: usageFor(opcode, layout),
    cls: 'write',
    parse({ cdb, lu, target }): ParsedCommand | SenseReason {
      const req = decode(layout, cdb, lu, true, isWriteProtected(lu, target));
      if (isSenseReason(req)) return req;
      return blocksOut(lu.blockSize, req.blocks, ({ dataOut, dataOutLength, signal }) =>
        writeBlocks(lu, req.lba, dataOutLength, req.fua, dataOut, signal),
      );
    },
  };
}

function readBlocks(lu: LogicalUnit, req: RwRequest, signal: CancelSignal): Promise<Outcome> {
  if (req.blocks === 0) return Promise.resolve(GOOD);
  const read = () => lu.device.read(req.lba * lu.blockSize, req.blocks * lu.blockSize, { signal });
  let result: Promise<BlockReadResult>;
  try {
    // Where WRITE ATOMIC(16) is offered a read takes its blocks shared, so it never sees half of one.
    result = lu.atomicJournal ? withRange(lu.rangeLock, req.lba, req.blocks, false, read) : read();
  } catch (err) {
    return Promise.resolve(blockFailure(err, 'read', req.lba));
  }
  // Chained, not awaited: every READ passes here, and an async frame costs a promise and a microtask.
  return result.then(
    (r): Outcome => ({ kind: 'good', data: r.data, release: () => r.release() }),
    (err: unknown) => blockFailure(err, 'read', req.lba),
  );
}
