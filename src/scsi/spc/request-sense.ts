import { checkControlByte, truncateToAllocation } from '../cdb.js';
import { ANSWERS_ANY_LUN, immediate, type AnyLunCommandHandler } from '../handler.js';
import { goodData } from '../outcome.js';
import { offlinePollableSense } from '../offline-gate.js';
import { buildSense } from '../sense.js';
import { Sense, type SenseReason } from '../sense-reasons.js';

/**
 * REQUEST SENSE (SPC-4): returns, with GOOD status, the pending unit attention (which it
 * clears), else NOT READY for an offline LU, else the device type's pollable sense (a disk's
 * sanitize state, SBC-4 4.11.3), else NO SENSE. Sent to a LUN without an LU it reports ILLEGAL
 * REQUEST / LOGICAL UNIT NOT SUPPORTED as parameter data, still with GOOD status: REQUEST SENSE
 * only fails for its own CDB.
 */
export const requestSense: AnyLunCommandHandler = {
  name: 'REQUEST SENSE',
  opcode: 0x03,
  cdbLength: 6,
  usage: [0x03, 0x01, 0x00, 0x00, 0xff, 0x00],
  ...ANSWERS_ANY_LUN,
  parse({ cdb, lu, nexus, target }) {
    const control = checkControlByte(cdb, 6);
    if (control) return control;
    const format = cdb[1] & 0x01 ? 'descriptor' : 'fixed';
    const allocation = cdb[4];
    return immediate(() => {
      let sense: SenseReason;
      if (!lu) {
        sense = Sense.logicalUnitNotSupported;
      } else {
        const ua = lu.unitAttentions.take(nexus.id);
        // Then an offline LU's NOT READY, then the device type's pollable sense (SBC: a sanitize in progress, with its progress, or failed).
        sense = ua
          ? Sense.unitAttention(ua.asc, ua.ascq)
          : (offlinePollableSense(lu) ?? target.deviceType.pollableSense(lu) ?? Sense.noSense);
      }
      return goodData(truncateToAllocation(buildSense(sense, format), allocation));
    });
  },
};
