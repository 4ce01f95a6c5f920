import type { LogicalUnit } from './logical-unit.js';
import { Sense, type SenseReason } from './sense-reasons.js';

const MAINTENANCE_IN = 0xa3;
const SA_REPORT_SUPPORTED_OPCODES = 0x0c;
const SA_REPORT_SUPPORTED_TMFS = 0x0d;

/** What an offline LU still answers: who it is and what it supports (the rest needs the medium). */
const ALLOWED: ReadonlySet<number> = new Set([
  0x12, // INQUIRY
  0xa0, // REPORT LUNS
  0x03, // REQUEST SENSE
]);

function allowedWhileOffline(cdb: Buffer): boolean {
  const opcode = cdb[0]!;
  if (ALLOWED.has(opcode)) return true;
  if (opcode !== MAINTENANCE_IN) return false;
  const action = cdb[1]! & 0x1f;
  return action === SA_REPORT_SUPPORTED_OPCODES || action === SA_REPORT_SUPPORTED_TMFS;
}

/**
 * An LU whose storage is offline (block/health.ts: its backing file truncated or deleted, or it
 * could not be opened) answers every command but the few above with NOT READY, LOGICAL UNIT NOT
 * READY, MANUAL INTERVENTION REQUIRED, from every nexus, until a reload or restart opens it again.
 */
export function offlineRefusal(lu: LogicalUnit, cdb: Buffer): SenseReason | undefined {
  if (!lu.device.health?.offline || allowedWhileOffline(cdb)) return undefined;
  return Sense.notReadyManualIntervention;
}

/** REQUEST SENSE's pollable sense for an offline LU, or undefined. */
export function offlinePollableSense(lu: LogicalUnit): SenseReason | undefined {
  return lu.device.health?.offline ? Sense.notReadyManualIntervention : undefined;
}
