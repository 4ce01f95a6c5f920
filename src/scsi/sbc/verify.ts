import type { CancelSignal } from '../../block/cancel.js';
import { dataOutBuffer } from '../data-out.js';
import { blocksOut, isWriteProtected, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { writeBlocks } from '../lu-write.js';
import { GOOD, type Outcome } from '../outcome.js';
import { isSenseReason, Sense, type SenseReason } from '../sense-reasons.js';
import { checkExtent, checkPrologue, LAYOUTS, layoutUsage, type Extent, type RwLayout } from './cdb-layout.js';
import { firstDifference, walkBlocks } from './medium.js';

type Size = 10 | 12 | 16;
const VERIFY_OPCODES = { 10: 0x2f, 12: 0xaf, 16: 0x8f } as const;
const WRITE_AND_VERIFY_OPCODES = { 10: 0x2e, 12: 0xae, 16: 0x8e } as const;

/** BYTCHK (SBC-4): 00b medium only, 01b compare all blocks, 11b compare one block against each. */
type ByteCheck = 0 | 1 | 3;

interface VerifyRequest extends Extent {
  readonly bytchk: ByteCheck;
}

/** Common decoding: CONTROL, xPROTECT (no protection information), BYTCHK, LBA range. */
function decode(layout: RwLayout, cdb: Buffer, lu: LogicalUnit, write: boolean, writeProtected = false): VerifyRequest | SenseReason {
  const refused = checkPrologue(cdb, layout.cdbLength, cdb[1]!, false, false);
  if (refused) return refused;
  const bytchk = (cdb[1] >> 1) & 0x03;
  // WRITE AND VERIFY knows 00b and 01b only; VERIFY also 11b. 10b is reserved for both.
  if (bytchk === 2 || (write && bytchk === 3)) return Sense.invalidFieldInCdb(1, 2);
  if (write && writeProtected) return Sense.writeProtected;
  const extent = checkExtent(layout, cdb, lu, write || bytchk === 1);
  if (isSenseReason(extent)) return extent;
  return { ...extent, bytchk: bytchk as ByteCheck };
}

/** Compare the medium with `expected` (BYTCHK 01b) or with one block repeated (11b). */
async function compareMedium(
  lu: LogicalUnit,
  req: VerifyRequest,
  expected: Buffer | undefined,
  signal: CancelSignal,
): Promise<Outcome> {
  const bs = lu.blockSize;
  const stop = await walkBlocks(lu, req.lba, req.blocks, signal, (medium, at) => {
    if (!expected) return undefined; // BYTCHK 00b: reading the blocks is the verification
    for (let off = 0; off < medium.length; off += bs) {
      const want = req.bytchk === 3 ? expected : expected.subarray(at + off, at + off + bs);
      const diff = firstDifference(medium.subarray(off, off + bs), want);
      // BYTCHK 11b: the offset is still counted from the start of the (one block) Data-Out buffer.
      if (diff >= 0) return Sense.miscompare(req.bytchk === 3 ? diff : at + off + diff);
    }
    return undefined;
  });
  return stop ?? GOOD;
}

/** VERIFY(10/12/16) (SBC-4). No data-out with BYTCHK 00b; the range's blocks with 01b; one block with 11b. */
export function verifyHandler(size: Size): LuCommandHandler {
  const layout = LAYOUTS[size];
  const opcode = VERIFY_OPCODES[size];
  return {
    name: `VERIFY(${size})`,
    opcode,
    cdbLength: layout.cdbLength,
    usage: layoutUsage(opcode, layout, 0xf6), // VRPROTECT, DPO, BYTCHK
    cls: 'other',
    parse({ cdb, lu }): ParsedCommand | SenseReason {
      const req = decode(layout, cdb, lu, false);
      if (isSenseReason(req)) return req;
      const dataOutLength = req.blocks === 0 || req.bytchk === 0 ? 0 : req.bytchk === 1 ? req.blocks * lu.blockSize : lu.blockSize;
      return {
        dataOutLength,
        run: async ({ dataOut, signal }) => {
          if (req.blocks === 0) return GOOD;
          if (req.bytchk === 0) return compareMedium(lu, req, undefined, signal);
          const expected = dataOutBuffer(dataOut, dataOutLength);
          if (!expected) return Sense.dataPhaseError;
          return compareMedium(lu, req, expected, signal);
        },
      };
    },
  };
}

/**
 * WRITE AND VERIFY(10/12/16) (SBC-4): the data goes to the medium durably, then (BYTCHK 01b)
 * is read back and compared; with BYTCHK 00b the read back alone is the medium verification.
 */
export function writeAndVerifyHandler(size: Size): LuCommandHandler {
  const layout = LAYOUTS[size];
  const opcode = WRITE_AND_VERIFY_OPCODES[size];
  return {
    name: `WRITE AND VERIFY(${size})`,
    opcode,
    cdbLength: layout.cdbLength,
    usage: layoutUsage(opcode, layout, 0xf2), // WRPROTECT, DPO, BYTCHK (01b)
    cls: 'write',
    parse({ cdb, lu, target }): ParsedCommand | SenseReason {
      const req = decode(layout, cdb, lu, true, isWriteProtected(lu, target));
      if (isSenseReason(req)) return req;
      return blocksOut(lu.blockSize, req.blocks, async ({ dataOut, dataOutLength, signal }) => {
        const written = await writeBlocks(lu, req.lba, dataOutLength, true, dataOut, signal);
        if (written.kind !== 'good' || dataOutLength === 0) return written;
        const blocks = dataOutLength / lu.blockSize;
        const expected = req.bytchk === 1 ? dataOutBuffer(dataOut, dataOutLength) : undefined;
        return compareMedium(lu, { ...req, blocks }, expected, signal);
      });
    },
  };
}
