import { checkControlByte } from '../cdb.js';
import { blockFailure } from '../block-failure.js';
import { immediate, type LuCommandHandler } from '../handler.js';
import { GOOD } from '../outcome.js';
import { Sense } from '../sense-reasons.js';

/**
 * START STOP UNIT (SBC-4). The medium never spins down, so START alone changes nothing; a stop
 * (START = 0, NO_FLUSH = 0) still writes the cache to the medium first, as SBC-4 asks of a
 * stopping LU. LOEJ ejects (START = 0) or loads (START = 1) a removable medium, unless removal
 * is prevented; on a fixed medium it is ignored.
 */
export const startStopUnit: LuCommandHandler = {
  name: 'START STOP UNIT',
  opcode: 0x1b,
  cdbLength: 6,
  usage: [0x1b, 0x01, 0x00, 0x0f, 0xf7, 0x00],
  cls: 'other',
  parse({ cdb, lu }) {
    const control = checkControlByte(cdb, 6);
    if (control) return control;
    // Power conditions are accepted and change nothing (no power management); libiscsi's PwrCnd
    // expects GOOD for every value 1h-Fh.
    const powerCondition = cdb[4]! >> 4;
    const start = (cdb[4]! & 0x01) !== 0;
    const loej = (cdb[4]! & 0x02) !== 0;
    const noFlush = (cdb[4]! & 0x04) !== 0;
    // LOEJ only counts with POWER CONDITION 0h (START_VALID).
    if (loej && powerCondition === 0 && lu.removable) {
      if (lu.medium.prevented) return Sense.mediumRemovalPrevented;
      return immediate(() => {
        lu.medium.present = start;
        return GOOD;
      });
    }
    const stop = powerCondition === 0 && !start;
    if (!stop || noFlush || lu.readOnly || !lu.medium.present) return immediate(GOOD);
    return {
      dataOutLength: 0,
      run: async () => {
        try {
          await lu.device.flush();
          return GOOD;
        } catch (err) {
          return blockFailure(err, 'write', 0);
        }
      },
    };
  },
};

/**
 * PREVENT ALLOW MEDIUM REMOVAL (SBC-4): on a removable medium PREVENT 01b blocks LOEJ for as long
 * as this nexus keeps it (00b allows); 10b/11b are obsolete. A fixed medium cannot be removed
 * anyway, so there every value is GOOD.
 */
export const preventAllowMediumRemoval: LuCommandHandler = {
  name: 'PREVENT ALLOW MEDIUM REMOVAL',
  opcode: 0x1e,
  cdbLength: 6,
  usage: [0x1e, 0x00, 0x00, 0x00, 0x03, 0x00],
  cls: 'other',
  parse({ cdb, lu, nexus }) {
    const control = checkControlByte(cdb, 6);
    if (control) return control;
    if (!lu.removable) return immediate(GOOD);
    const prevent = cdb[4]! & 0x03;
    if (prevent > 1) return Sense.invalidFieldInCdb(4, 1);
    return immediate(() => {
      lu.medium.setPrevent(nexus.id, prevent === 1);
      return GOOD;
    });
  },
};
