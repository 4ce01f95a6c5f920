import type { Nexus } from '../command.js';
import type { ReservationState } from './state.js';
import { admitsRegistrants, isExclusiveAccess } from './types.js';

/**
 * How a command fares against a persistent reservation it does not hold (SPC-4 5.13.1 tables
 * "commands allowed in the presence of various reservations", SBC-3 4.17):
 *   allowed - never conflicts (identification, sense, capacity, PR IN ...);
 *   read    - conflicts only under the EXCLUSIVE ACCESS types (reads, VERIFY, MODE SENSE ...);
 *   write   - conflicts under every type (the default: anything not listed changes the medium or state);
 *   self    - the command applies the reservation rules itself (PR OUT, RESERVE, RELEASE).
 * Under an all-registrants or registrants-only type a registered nexus has full access.
 */
export type Access = 'allowed' | 'read' | 'write' | 'self';

const PERSISTENT_RESERVE_IN = 0x5e;
const PERSISTENT_RESERVE_OUT = 0x5f;
const SERVICE_ACTION_IN_16 = 0x9e;
const SA_READ_CAPACITY_16 = 0x10;
const START_STOP_UNIT = 0x1b;
const PREVENT_ALLOW = 0x1e;

/** By opcode; entries that depend on CDB fields are functions. */
const TABLE = new Map<number, Access | ((cdb: Buffer) => Access)>([
  [0x00, 'allowed'], // TEST UNIT READY
  [0x03, 'allowed'], // REQUEST SENSE
  [0x12, 'allowed'], // INQUIRY
  [0x25, 'allowed'], // READ CAPACITY (10)
  [0x4d, 'allowed'], // LOG SENSE
  [0xa0, 'allowed'], // REPORT LUNS
  [0xa3, 'allowed'], // MAINTENANCE IN: REPORT SUPPORTED OPCODES / TMFs, REPORT TARGET PORT GROUPS ...
  [0xab, 'allowed'], // SERVICE ACTION IN (12): READ MEDIA SERIAL NUMBER
  [PERSISTENT_RESERVE_IN, 'allowed'],
  [PERSISTENT_RESERVE_OUT, 'self'],
  [0x16, 'self'], // RESERVE (6)
  [0x17, 'self'], // RELEASE (6)
  [0x56, 'self'], // RESERVE (10)
  [0x57, 'self'], // RELEASE (10)
  // READ 6/10/12/16, VERIFY 10/12/16, PRE-FETCH 10/16, READ DEFECT DATA 10/12
  ...[0x08, 0x28, 0xa8, 0x88, 0x2f, 0xaf, 0x8f, 0x34, 0x90, 0x37, 0xb7].map((op) => [op, 'read'] as const),
  // MODE SENSE 6/10, READ BUFFER, RECEIVE DIAGNOSTIC RESULTS, READ ATTRIBUTE
  ...[0x1a, 0x5a, 0x3c, 0x1c, 0x8c].map((op) => [op, 'read'] as const),
  // READ CAPACITY (16) is allowed; GET LBA STATUS (the other service action we know) reads.
  [SERVICE_ACTION_IN_16, (cdb) => ((cdb[1]! & 0x1f) === SA_READ_CAPACITY_16 ? 'allowed' : 'read')],
  // Only START = 1 with POWER CONDITION 0 (spinning up) is allowed.
  [START_STOP_UNIT, (cdb) => ((cdb[4]! & 0xf1) === 0x01 ? 'allowed' : 'write')],
  // ALLOW (PREVENT = 0) is allowed; PREVENT is not.
  [PREVENT_ALLOW, (cdb) => ((cdb[4]! & 0x03) === 0 ? 'allowed' : 'write')],
]);

export function accessOf(cdb: Buffer): Access {
  const entry = TABLE.get(cdb[0]!);
  if (entry === undefined) return 'write';
  return typeof entry === 'function' ? entry(cdb) : entry;
}

/** What a nexus other than the SPC-2 reservation holder may still send (SPC-2 5.5.1). */
const LEGACY_ALLOWED = new Set([0x12, 0xa0, 0x03, 0x17, 0x57]);

/**
 * True when the command must end in RESERVATION CONFLICT before it runs. An SPC-2 reservation
 * blocks other nexuses from everything but INQUIRY, REPORT LUNS, REQUEST SENSE and RELEASE, and
 * blocks PERSISTENT RESERVE IN/OUT from every nexus, its holder included (SPC-4 5.13.3).
 */
export function reservationConflict(state: ReservationState, nexus: Nexus, cdb: Buffer): boolean {
  const opcode = cdb[0]!;
  if (state.legacyReserved) {
    if (opcode === PERSISTENT_RESERVE_IN || opcode === PERSISTENT_RESERVE_OUT) return true;
    return !state.holdsLegacy(nexus) && !LEGACY_ALLOWED.has(opcode);
  }
  const r = state.reservation;
  if (!r) return false;
  const access = accessOf(cdb);
  if (access === 'allowed' || access === 'self') return false;
  const reg = state.registrationOf(nexus);
  if (state.isHolder(reg) || (reg && admitsRegistrants(r.type))) return false;
  return access === 'write' || isExclusiveAccess(r.type);
}
