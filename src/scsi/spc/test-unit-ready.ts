import { checkControlByte } from '../cdb.js';
import { immediate, type LuCommandHandler } from '../handler.js';
import { GOOD } from '../outcome.js';

/** TEST UNIT READY: the medium is always there; unit attentions are reported by the core before this runs. */
export const testUnitReady: LuCommandHandler = {
  name: 'TEST UNIT READY',
  opcode: 0x00,
  cdbLength: 6,
  usage: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
  cls: 'other',
  parse: ({ cdb }) => checkControlByte(cdb, 6) ?? immediate(GOOD),
};
