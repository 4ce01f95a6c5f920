import type { CommandGate } from '../device-type.js';
import type { LogicalUnit } from '../logical-unit.js';
import { isInventoryCommand, Opcode, ServiceAction, serviceActionOf } from '../opcode.js';
import { Sense, type SenseReason } from '../sense-reasons.js';

const TEMPERATURE_LOG_PAGE = 0x0d;

/** MODE SENSE pages allowed during sanitize: caching, control, protocol-specific LU / port, informational exceptions. */
const MODE_PAGES: ReadonlySet<number> = new Set([0x08, 0x0a, 0x18, 0x19, 0x1c]);

/** SBC-4 4.11.2 "Commands allowed during sanitize" (those of them this target supports). */
export function allowedDuringSanitize(cdb: Buffer): boolean {
  if (isInventoryCommand(cdb)) return true;
  switch (cdb[0]) {
    case Opcode.READ_CAPACITY_10:
      return true;
    case Opcode.SERVICE_ACTION_IN_16:
      return serviceActionOf(cdb) === ServiceAction.READ_CAPACITY_16;
    case Opcode.MODE_SENSE_6:
    case Opcode.MODE_SENSE_10:
      return MODE_PAGES.has(cdb[2]! & 0x3f);
    case Opcode.LOG_SENSE:
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
  return cdb[0] === Opcode.SANITIZE ? undefined : Sense.sanitizeCommandFailed;
}

/** A sanitize starts while commands are queued: they are refused when they start, not only on arrival. */
export const SANITIZE_GATE: CommandGate = { refusal: sanitizeRefusal, recheckAtStart: true };

/** REQUEST SENSE's pollable sense data for the sanitize state (SBC-4 4.11.3 b), or undefined when idle. */
export function sanitizePollableSense(lu: LogicalUnit): SenseReason | undefined {
  const state = lu.sanitize;
  if (state.inProgress) return Sense.sanitizeInProgress(state.progress);
  return state.failed ? Sense.sanitizeCommandFailed : undefined;
}
