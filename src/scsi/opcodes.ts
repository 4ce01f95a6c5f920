import type { CommandHandler } from './handler.js';
import { prInHandlers } from './pr/pr-in.js';
import { prOutHandlers } from './pr/pr-out.js';
import { reserveReleaseHandlers } from './pr/reserve-release.js';
import { readCapacity10, readCapacity16 } from './sbc/read-capacity.js';
import { readHandler, writeHandler } from './sbc/read-write.js';
import { synchronizeCache10, synchronizeCache16 } from './sbc/synchronize-cache.js';
import { Sense, type SenseReason } from './sense-reasons.js';
import { inquiry } from './spc/inquiry.js';
import { modeSense10, modeSense6 } from './spc/mode-sense.js';
import { reportLuns } from './spc/report-luns.js';
import { reportSupportedOperationCodes } from './spc/report-supported-opcodes.js';
import { requestSense } from './spc/request-sense.js';
import { testUnitReady } from './spc/test-unit-ready.js';
import { prefetch10, prefetch16 } from './sbc/prefetch.js';
import { readDefectData10, readDefectData12 } from './sbc/read-defect-data.js';
import { preventAllowMediumRemoval, startStopUnit } from './sbc/start-stop.js';
import { verifyHandler, writeAndVerifyHandler } from './sbc/verify.js';
import { logSense } from './spc/log-sense.js';
import { modeSelect10, modeSelect6 } from './spc/mode-select.js';
import { getLbaStatus } from './sbc/get-lba-status.js';
import { compareAndWrite, orWrite16 } from './sbc/compare-and-write.js';
import { unmap } from './sbc/unmap.js';
import { writeSame10, writeSame16 } from './sbc/write-same.js';
import { reportSupportedTmfs } from './spc/report-tmf.js';
import { sanitizeHandlers } from './sbc/sanitize.js';
import { writeAtomic16 } from './sbc/write-atomic.js';
import { xcopyHandlers } from './spc/xcopy.js';

/** Every command this target answers: SPC (every LU) and SBC (direct access). */
export const COMMAND_HANDLERS: readonly CommandHandler[] = Object.freeze([
  testUnitReady,
  requestSense,
  inquiry,
  modeSense6,
  modeSense10,
  reportLuns,
  reportSupportedOperationCodes,
  readCapacity10,
  readCapacity16,
  readHandler(6),
  readHandler(10),
  readHandler(12),
  readHandler(16),
  writeHandler(6),
  writeHandler(10),
  writeHandler(12),
  writeHandler(16),
  synchronizeCache10,
  synchronizeCache16,
  // issue #4: the rest of SBC/SPC
  verifyHandler(10),
  verifyHandler(12),
  verifyHandler(16),
  writeAndVerifyHandler(10),
  writeAndVerifyHandler(12),
  writeAndVerifyHandler(16),
  prefetch10,
  prefetch16,
  startStopUnit,
  preventAllowMediumRemoval,
  readDefectData10,
  readDefectData12,
  reportSupportedTmfs,
  logSense,
  modeSelect6,
  modeSelect10,
  writeSame10,
  writeSame16,
  unmap,
  getLbaStatus,
  compareAndWrite,
  orWrite16,
  ...sanitizeHandlers,
  writeAtomic16,
  // issue #4: reservations (src/scsi/pr)
  ...reserveReleaseHandlers,
  ...prInHandlers,
  ...prOutHandlers,
  // issue #4: EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (src/scsi/spc/xcopy*.ts)
  ...xcopyHandlers,
]);

/** Opcode -> handler, or opcode -> (service action -> handler) for SERVICE ACTION IN / MAINTENANCE IN. */
export class CommandTable {
  private readonly plain = new Map<number, CommandHandler>();
  private readonly withAction = new Map<number, Map<number, CommandHandler>>();

  constructor(readonly handlers: readonly CommandHandler[] = COMMAND_HANDLERS) {
    for (const h of handlers) {
      if (h.serviceAction === undefined) {
        this.plain.set(h.opcode, h);
      } else {
        let actions = this.withAction.get(h.opcode);
        if (!actions) this.withAction.set(h.opcode, (actions = new Map()));
        actions.set(h.serviceAction, h);
      }
    }
  }

  /**
   * Unknown opcode: INVALID COMMAND OPERATION CODE. Unknown service action of a known opcode:
   * INVALID FIELD IN CDB pointing at SERVICE ACTION (what initiators read as "not supported").
   */
  lookup(cdb: Buffer): CommandHandler | SenseReason {
    const opcode = cdb[0];
    const plain = this.plain.get(opcode);
    if (plain) return plain;
    const actions = this.withAction.get(opcode);
    if (!actions) return Sense.invalidOpcode;
    return actions.get(cdb[1] & 0x1f) ?? Sense.invalidFieldInCdb(1, 4);
  }
}
