import { checkControlByte, isBeyondCapacity, readLba64 } from '../cdb.js';
import type { LogicalUnit } from '../logical-unit.js';
import { Sense, type SenseReason } from '../sense-reasons.js';

/**
 * Where the LBA and length fields of the 6/10/12/16-byte SBC CDBs live: READ and WRITE, and the
 * commands laid out like them (VERIFY, WRITE AND VERIFY, PRE-FETCH, SYNCHRONIZE CACHE, ORWRITE,
 * WRITE SAME).
 */
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

/**
 * The first checks of every medium-access CDB (READ, WRITE, VERIFY, WRITE AND VERIFY, WRITE
 * ATOMIC, COMPARE AND WRITE, ORWRITE): the CONTROL byte, RDPROTECT/WRPROTECT/VRPROTECT/ORPROTECT in
 * the top bits of `flags` (no protection information here), then write protection (`writeProtected`: the
 * LU's or this nexus's, see isWriteProtected) for commands that write.
 */
export function checkPrologue(cdb: Buffer, cdbLength: number, flags: number, writeProtected: boolean, writes: boolean): SenseReason | undefined {
  const control = checkControlByte(cdb, cdbLength);
  if (control) return control;
  if (flags >> 5 !== 0) return Sense.invalidFieldInCdb(1, 7);
  if (writes && writeProtected) return Sense.writeProtected;
  return undefined;
}

/** The blocks a CDB names. */
export interface Extent {
  readonly lba: number;
  readonly blocks: number;
}

/**
 * The last checks of a CDB laid out as `layout`: MAXIMUM TRANSFER LENGTH where the blocks move
 * through the transport (`transfers`), then the capacity.
 */
export function checkExtent(layout: RwLayout, cdb: Buffer, lu: LogicalUnit, transfers: boolean): Extent | SenseReason {
  const blocks = layout.blocks(cdb);
  if (transfers && blocks > lu.maxTransferLength) return Sense.invalidFieldInCdb(layout.lengthByte);
  const lba = layout.lba(cdb);
  if (isBeyondCapacity(lba, blocks, lu.numBlocks)) return Sense.lbaOutOfRange;
  return { lba, blocks };
}

/**
 * CDB USAGE DATA (REPORT SUPPORTED OPERATION CODES) of a 10/12/16-byte CDB laid out as `layout`:
 * the opcode, `byte1` (the flags it looks at), the LBA and the TRANSFER LENGTH.
 */
export function layoutUsage(opcode: number, layout: RwLayout, byte1: number): number[] {
  const usage = new Array<number>(layout.cdbLength).fill(0);
  usage[0] = opcode;
  usage[1] = byte1;
  usage.fill(0xff, 2, 2 + (layout.size === 16 ? 8 : 4));
  usage.fill(0xff, layout.lengthByte, layout.lengthByte + (layout.size === 10 ? 2 : 4));
  return usage;
}
