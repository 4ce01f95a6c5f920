import type { LogicalUnit } from './logical-unit.js';
import { isInventoryCommand } from './opcode.js';
import { Sense, type SenseReason } from './sense-reasons.js';

/**
 * An LU whose storage is offline (block/health.ts: its backing file truncated or deleted, or it
 * could not be opened) answers every command but the inventory ones (INQUIRY, REPORT LUNS,
 * REQUEST SENSE, REPORT SUPPORTED ...) with NOT READY, LOGICAL UNIT NOT READY, MANUAL
 * INTERVENTION REQUIRED, from every nexus, until a reload or restart opens it again. This gate is
 * the core's own: it is about the storage under any device type.
 */
export function offlineRefusal(lu: LogicalUnit, cdb: Buffer): SenseReason | undefined {
  if (!lu.device.health?.offline || isInventoryCommand(cdb)) return undefined;
  return Sense.notReadyManualIntervention;
}

/** REQUEST SENSE's pollable sense for an offline LU, or undefined. */
export function offlinePollableSense(lu: LogicalUnit): SenseReason | undefined {
  return lu.device.health?.offline ? Sense.notReadyManualIntervention : undefined;
}
