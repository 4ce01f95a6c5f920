import type { CancelSignal } from '../../block/cancel.js';
import type { SgVector } from '../../block/sg.js';
import { checkControlByte, isBeyondCapacity, readLba64 } from '../cdb.js';
import { blockFailure } from '../block-failure.js';
import { withRange } from './range-lock.js';
import type { LuCommandHandler, ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, type Outcome } from '../outcome.js';
import { isSenseReason, Sense, type SenseReason } from '../sense-reasons.js';

/** Where the fields of one READ/WRITE CDB size live (SBC-3). */
export interface RwLayout {
  readonly size: 6 | 10 | 12 | 16;
  readonly cdbLength: number;
  /** Byte holding the (most significant byte of the) TRANSFER LENGTH, for field pointers. */
  readonly lengthByte: number;
  lba(cdb: Buffer): number;
  blocks(cdb: Buffer): number;
}

export const LAYOUTS: Record<RwLayout['size'], RwLayout> = {
  6: {
    size: 6,
    cdbLength: 6,
    lengthByte: 4,
    lba: (cdb) => ((cdb[1] & 0x1f) << 16) | cdb.readUInt16BE(2),
    // READ(6)/WRITE(6): a TRANSFER LENGTH of zero means 256 blocks.
    blocks: (cdb) => cdb[4] || 256,
  },
  10: { size: 10, cdbLength: 10, lengthByte: 7, lba: (cdb) => cdb.readUInt32BE(2), blocks: (cdb) => cdb.readUInt16BE(7) },
  12: { size: 12, cdbLength: 12, lengthByte: 6, lba: (cdb) => cdb.readUInt32BE(2), blocks: (cdb) => cdb.readUInt32BE(6) },
  16: { size: 16, cdbLength: 16, lengthByte: 10, lba: (cdb) => readLba64(cdb, 2), blocks: (cdb) => cdb.readUInt32BE(10) },
};

const READ_OPCODES = { 6: 0x08, 10: 0x28, 12: 0xa8, 16: 0x88 } as const;
const WRITE_OPCODES = { 6: 0x0a, 10: 0x2a, 12: 0xaa, 16: 0x8a } as const;

/** Decoded READ/WRITE fields common to both directions. */
interface RwRequest {
  readonly lba: number;
  readonly blocks: number;
  readonly fua: boolean;
}

/**
 * The first checks of every medium-access CDB (READ, WRITE, VERIFY, WRITE AND VERIFY, WRITE
 * ATOMIC): the CONTROL byte, RDPROTECT/WRPROTECT/VRPROTECT in the top bits of `flags` (no
 * protection information here), then write protection for commands that write.
 */
export function checkPrologue(cdb: Buffer, cdbLength: number, flags: number, lu: LogicalUnit, writes: boolean): SenseReason | undefined {
  const control = checkControlByte(cdb, cdbLength);
  if (control) return control;
  if (flags >> 5 !== 0) return Sense.invalidFieldInCdb(1, 7);
  if (writes && lu.readOnly) return Sense.writeProtected;
  return undefined;
}

/**
 * Checks shared by reads and writes, in the order a device server meets them: CONTROL byte,
 * RDPROTECT/WRPROTECT (no protection information here), MAXIMUM TRANSFER LENGTH, capacity.
 * DPO is accepted and ignored (the backstore has no cache retention to steer).
 */
function decode(layout: RwLayout, cdb: Buffer, lu: LogicalUnit, isWrite: boolean): RwRequest | SenseReason {
  const flags = layout.size === 6 ? 0 : cdb[1];
  const refused = checkPrologue(cdb, layout.cdbLength, flags, lu, isWrite);
  if (refused) return refused;
  const blocks = layout.blocks(cdb);
  if (blocks > lu.maxTransferLength) return Sense.invalidFieldInCdb(layout.lengthByte);
  const lba = layout.lba(cdb);
  if (isBeyondCapacity(lba, blocks, lu.numBlocks)) return Sense.lbaOutOfRange;
  return { lba, blocks, fua: (flags & 0x08) !== 0 };
}

function usageFor(opcode: number, layout: RwLayout): number[] {
  const usage = new Array<number>(layout.cdbLength).fill(0);
  usage[0] = opcode;
  if (layout.size === 6) {
    usage.fill(0xff, 2, 5);
    usage[1] = 0x1f;
    return usage;
  }
  usage[1] = 0xf8; // RDPROTECT/WRPROTECT (checked), DPO, FUA
  const lbaBytes = layout.size === 16 ? 8 : 4;
  usage.fill(0xff, 2, 2 + lbaBytes);
  usage.fill(0xff, layout.lengthByte, layout.lengthByte + (layout.size === 10 ? 2 : 4));
  return usage;
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
    parse({ cdb, lu }): ParsedCommand | SenseReason {
      const req = decode(layout, cdb, lu, true);
      if (isSenseReason(req)) return req;
      return {
        dataOutLength: req.blocks * lu.blockSize,
        dataOutGranularity: lu.blockSize,
        run: ({ dataOut, dataOutLength, signal }) => writeBlocks(lu, req.lba, dataOutLength, req.fua, dataOut, signal),
      };
    },
  };
}

async function readBlocks(lu: LogicalUnit, req: RwRequest, signal: CancelSignal): Promise<Outcome> {
  if (req.blocks === 0) return GOOD;
  try {
    const read = () => lu.device.read(req.lba * lu.blockSize, req.blocks * lu.blockSize, { signal });
    // Where WRITE ATOMIC(16) is offered a read takes its blocks shared, so it never sees half of one.
    const result = await (lu.atomicJournal ? withRange(lu.rangeLock, req.lba, req.blocks, false, read) : read());
    return { kind: 'good', data: result.data, release: () => result.release() };
  } catch (err) {
    return blockFailure(err, 'read', req.lba);
  }
}

/**
 * Writes `length` bytes (whole blocks; the CDB's length unless the initiator's EDTL cut it) at `lba`.
 * `locked`: the caller already holds the range exclusively (COMPARE AND WRITE, ORWRITE); otherwise
 * the write takes it shared, so it waits only for such a read-modify-write on the same blocks.
 */
export async function writeBlocks(
  lu: LogicalUnit,
  lba: number,
  length: number,
  fua: boolean,
  dataOut: SgVector | undefined,
  signal: CancelSignal,
  locked = false,
): Promise<Outcome> {
  if (length === 0) return GOOD;
  if (!dataOut || dataOut.length < length) return Sense.dataPhaseError;
  const data = dataOut.length === length ? dataOut : dataOut.slice(0, length);
  try {
    // WCE = 0: no volatile cache may hold the data when status goes out (SBC-3 caching page).
    const write = (): Promise<void> => lu.device.write(lba * lu.blockSize, data, { fua: fua || !lu.writeCacheEnabled, signal });
    await (locked ? write() : withRange(lu.rangeLock, lba, length / lu.blockSize, false, write));
    return GOOD;
  } catch (err) {
    return blockFailure(err, 'write', lba);
  }
}
