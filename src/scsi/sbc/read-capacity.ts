import { checkControlByte, readLba64 } from '../cdb.js';
import { immediate, parameterData, type LuCommandHandler } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { goodData } from '../outcome.js';
import { Opcode, ServiceAction } from '../opcode.js';
import { Sense } from '../sense-reasons.js';
import { logicalPerPhysicalExponent } from './geometry.js';

const { SERVICE_ACTION_IN_16 } = Opcode;
const SA_READ_CAPACITY_16 = ServiceAction.READ_CAPACITY_16;

/** READ CAPACITY(10) parameter data: last LBA (FFFF_FFFFh = "ask READ CAPACITY(16)") and block length. */
export function readCapacity10Data(lu: LogicalUnit): Buffer {
  const b = Buffer.alloc(8);
  const lastLba = lu.numBlocks - 1;
  b.writeUInt32BE(lastLba > 0xfffffffe ? 0xffffffff : Math.max(lastLba, 0), 0);
  b.writeUInt32BE(lu.blockSize, 4);
  return b;
}

/**
 * READ CAPACITY(16) parameter data (SBC-4): no protection; the physical block geometry of the
 * device (LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT, LOWEST ALIGNED LBA). A thin LU reports
 * LBPME, and LBPRZ where deallocated blocks read as zeros (holes punched in the backing file do).
 */
export function readCapacity16Data(lu: LogicalUnit): Buffer {
  const b = Buffer.alloc(32);
  b.writeBigUInt64BE(BigInt(Math.max(lu.numBlocks - 1, 0)), 0);
  b.writeUInt32BE(lu.blockSize, 8);
  b[13] = logicalPerPhysicalExponent(lu);
  b.writeUInt16BE((lu.thin ? 0x8000 : 0) | (lu.lbprz ? 0x4000 : 0) | (lu.lowestAlignedLba & 0x3fff), 14);
  return b;
}

export const readCapacity10: LuCommandHandler = {
  name: 'READ CAPACITY(10)',
  opcode: Opcode.READ_CAPACITY_10,
  cdbLength: 10,
  usage: [0x25, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00],
  cls: 'other',
  parse({ cdb, lu }) {
    const control = checkControlByte(cdb, 10);
    if (control) return control;
    // SBC-3: with PMI = 0 the LOGICAL BLOCK ADDRESS field must be zero.
    if ((cdb[8] & 0x01) === 0 && cdb.readUInt32BE(2) !== 0) return Sense.invalidFieldInCdb(2);
    return immediate(() => goodData(readCapacity10Data(lu)));
  },
};

export const readCapacity16: LuCommandHandler = {
  name: 'READ CAPACITY(16)',
  opcode: SERVICE_ACTION_IN_16,
  serviceAction: SA_READ_CAPACITY_16,
  cdbLength: 16,
  usage: [SERVICE_ACTION_IN_16, SA_READ_CAPACITY_16, ...new Array<number>(12).fill(0xff), 0x01, 0x00],
  cls: 'other',
  parse({ cdb, lu }) {
    const control = checkControlByte(cdb, 16);
    if (control) return control;
    if ((cdb[14] & 0x01) === 0 && readLba64(cdb, 2) !== 0) return Sense.invalidFieldInCdb(2);
    const allocation = cdb.readUInt32BE(10);
    return parameterData(() => readCapacity16Data(lu), allocation);
  },
};
