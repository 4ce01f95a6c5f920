import type { LogicalUnit } from '../logical-unit.js';
import { Sense, type SenseReason } from '../sense-reasons.js';

const SANITIZE = 0x48;
const SERVICE_ACTION_IN_16 = 0x9e;
const SA_READ_CAPACITY_16 = 0x10;
const MAINTENANCE_IN = 0xa3;
const SA_REPORT_SUPPORTED_OPCODES = 0x0c;
const SA_REPORT_SUPPORTED_TMFS = 0x0d;
const MODE_SENSE_6 = 0x1a;
const MODE_SENSE_10 = 0x5a;
const LOG_SENSE = 0x4d;
const TEMPERATURE_LOG_PAGE = 0x0d;

/** Opcodes allowed during sanitize whatever their fields (SBC-4 4.11.2). */
const ALWAYS_ALLOWED: ReadonlySet<number> = new Set([
  0x12, // INQUIRY
  0xa0, // REPORT LUNS
  0x03, // REQUEST SENSE
  0x25, // READ CAPACITY(10)
]);

/** MODE SENSE pages allowed during sanitize: caching, control, protocol-specific LU / port, informational exceptions. */
const MODE_PAGES: ReadonlySet<number> = new Set([0x08, 0x0a, 0x18, 0x19, 0x1c]);

/** SBC-4 4.11.2 "Commands allowed during sanitize" (those of them this target supports). */
export function allowedDuringSanitize(cdb: Buffer): boolean {
  const opcode = cdb[0]!;
  if (ALWAYS_ALLOWED.has(opcode)) return true;
  const action = cdb[1]! & 0x1f;
  switch (opcode) {
    case SERVICE_ACTION_IN_16:
      return action === SA_READ_CAPACITY_16;
    case MAINTENANCE_IN:
      return action === SA_REPORT_SUPPORTED_OPCODES || action === SA_REPORT_SUPPORTED_TMFS;
    case MODE_SENSE_6:
    case MODE_SENSE_10:
      return MODE_PAGES.has(cdb[2]! & 0x3f);
    case LOG_SENSE:
      return (cdb[2]! & 0x3f) === TEMPERATURE_LOG_PAGE;
    default:
      return false;
  }
}

/**
 * What the LU's sanitize state answers instead of running `cdb` (from any nexus), or undefined:
 * while a sanitize runs, NOT READY / SANITIZE IN PROGRESS with the progress; after one failed,
 * MEDIUM ERROR / SANITIZE COMMAND FAILED, except for SANITIZE itself (SBC-4 4.11.4; which
 * SANITIZE commands the failed condition still accepts is the SANITIZE parser's business).
 */
export function sanitizeRefusal(lu: LogicalUnit, cdb: Buffer): SenseReason | undefined {
  const state = lu.sanitize;
  if (state.idle || allowedDuringSanitize(cdb)) return undefined;
  if (state.inProgress) return Sense.sanitizeInProgress(state.progress);
  return cdb[0] === SANITIZE ? undefined : Sense.sanitizeCommandFailed;
}

/** REQUEST SENSE's pollable sense data for the sanitize state (SBC-4 4.11.3 b), or undefined when idle. */
export function sanitizePollableSense(lu: LogicalUnit): SenseReason | undefined {
  const state = lu.sanitize;
  if (state.inProgress) return Sense.sanitizeInProgress(state.progress);
  return state.failed ? Sense.sanitizeCommandFailed : undefined;
}
