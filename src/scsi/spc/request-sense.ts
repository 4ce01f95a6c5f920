import { checkControlByte, truncateToAllocation } from '../cdb.js';
import { immediate, type AnyLunCommandHandler } from '../handler.js';
import { goodData } from '../outcome.js';
import { offlinePollableSense } from '../offline-gate.js';
import { sanitizePollableSense } from '../sbc/sanitize-gate.js';
import { buildSense, SenseKey, type SenseData } from '../sense.js';

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
      let sense: SenseData;
      if (!lu) {
        sense = { key: SenseKey.ILLEGAL_REQUEST, asc: 0x25, ascq: 0x00 };
      } else {
        const ua = lu.unitAttentions.take(nexus.id);
        // Then an offline LU's NOT READY, then the pollable sense of a sanitize in progress (with its progress) or failed.
        sense = ua
          ? { key: SenseKey.UNIT_ATTENTION, ...ua }
          : (offlinePollableSense(lu) ?? sanitizePollableSense(lu) ?? { key: SenseKey.NO_SENSE, asc: 0, ascq: 0 });
      }
      return goodData(truncateToAllocation(buildSense(sense, format), allocation));
    });
  },
};
