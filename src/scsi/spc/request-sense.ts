import { checkControlByte, truncateToAllocation } from '../cdb.js';
import { immediate, type AnyLunCommandHandler } from '../handler.js';
import { goodData } from '../outcome.js';
import { offlinePollableSense } from '../offline-gate.js';
import { sanitizePollableSense } from '../sbc/sanitize-gate.js';
import { buildSense } from '../sense.js';
import { Sense, type SenseReason } from '../sense-reasons.js';

/**
 * REQUEST SENSE (SPC-4): returns, with GOOD status, the pending unit attention (which it
 * clears), else NOT READY for an offline LU, else the sanitize state's pollable sense (SBC-4 4.11.3), else NO SENSE. Sent to a
 * LUN without an LU it reports ILLEGAL REQUEST / LOGICAL UNIT NOT SUPPORTED as parameter data, still with GOOD status: REQUEST SENSE only fails for its own CDB.
 */
export const requestSense: AnyLunCommandHandler = {
  name: 'REQUEST SENSE',
  opcode: 0x03,
  cdbLength: 6,
  usage: [0x03, 0x01, 0x00, 0x00, 0xff, 0x00],
  cls: 'other',
  anyLun: true,
  bypassesUnitAttention: true,
  parse({ cdb, lu, nexus }) {
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
        // Then an offline LU's NOT READY, then the pollable sense of a sanitize in progress (with its progress) or failed.
        sense = ua
          ? Sense.unitAttention(ua.asc, ua.ascq)
          : (offlinePollableSense(lu) ?? sanitizePollableSense(lu) ?? Sense.noSense);
      }
      return goodData(truncateToAllocation(buildSense(sense, format), allocation));
    });
  },
};
