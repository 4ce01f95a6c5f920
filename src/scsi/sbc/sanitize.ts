import { checkControlByte } from '../cdb.js';
import type { LuCommandHandler, ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { Sense, type SenseReason } from '../sense-reasons.js';
import { deallocate } from './provisioning.js';

export const SANITIZE = 0x48;
export const SA_SANITIZE_BLOCK_ERASE = 0x02;

/**
 * SANITIZE (SBC-4) with BLOCK ERASE only, and only on thin LUs: there "erase" is deallocation of
 * every block (fallocate PUNCH_HOLE over the whole file), after which GET LBA STATUS reports the
 * whole LU deallocated and, LBPRZ = 1, every block reads as zeros (VPD B1h WABEREQ = 01b: reads
 * succeed). OVERWRITE, CRYPTO ERASE and EXIT FAILURE MODE have no handler, so the opcode table
 * answers INVALID FIELD IN CDB on SERVICE ACTION (see docs/conformance.md for why).
 * IMMED is accepted: the erase completes before status either way, which leaves nothing to poll.
 * AUSE is accepted: a block erase here cannot fail part-way into a "sanitize failed" state.
 */
function parseBlockErase(cdb: Buffer, lu: LogicalUnit): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, 10);
  if (control) return control;
  if (!lu.thin) return Sense.invalidFieldInCdb(1, 4);
  if (cdb[1]! & 0x40) return Sense.invalidFieldInCdb(1, 6);
  for (let i = 2; i <= 6; i++) if (cdb[i] !== 0) return Sense.invalidFieldInCdb(i);
  // BLOCK ERASE takes no parameter list.
  if (cdb.readUInt16BE(7) !== 0) return Sense.invalidFieldInCdb(7);
  if (lu.readOnly) return Sense.writeProtected;
  return { dataOutLength: 0, run: () => deallocate(lu, [{ lba: 0, blocks: lu.numBlocks }]) };
}

export const sanitizeBlockErase: LuCommandHandler = {
  name: 'SANITIZE (BLOCK ERASE)',
  opcode: SANITIZE,
  serviceAction: SA_SANITIZE_BLOCK_ERASE,
  cdbLength: 10,
  usage: [SANITIZE, 0xa0 | SA_SANITIZE_BLOCK_ERASE, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  cls: 'write',
  supported: (lu) => lu?.thin === true,
  parse: ({ cdb, lu }) => parseBlockErase(cdb, lu),
};
