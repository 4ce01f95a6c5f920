import type { CommandHandler } from '../handler.js';
import { inquiry } from './inquiry.js';
import { logSense } from './log-sense.js';
import { modeSelect10, modeSelect6 } from './mode-select.js';
import { modeSense10, modeSense6 } from './mode-sense.js';
import { reportLuns } from './report-luns.js';
import { reportSupportedOperationCodes } from './report-supported-opcodes.js';
import { reportSupportedTmfs } from './report-tmf.js';
import { reportTargetPortGroups } from './report-target-port-groups.js';
import { requestSense } from './request-sense.js';
import { testUnitReady } from './test-unit-ready.js';
import { xcopyHandlers } from './xcopy.js';

/** The SPC commands every LU answers, whatever its device type (reservations are in ../pr). */
export const SPC_COMMANDS: readonly CommandHandler[] = Object.freeze([
  testUnitReady,
  requestSense,
  inquiry,
  modeSense6,
  modeSense10,
  modeSelect6,
  modeSelect10,
  logSense,
  reportLuns,
  reportSupportedOperationCodes,
  reportSupportedTmfs,
  // EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (xcopy*.ts)
  ...xcopyHandlers,
]);

/** Added to the opcode table only while the core has an ALUA provider (target-core.ts). */
export const ALUA_COMMANDS: readonly CommandHandler[] = Object.freeze([reportTargetPortGroups]);
