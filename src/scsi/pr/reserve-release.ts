import { checkControlByte } from '../cdb.js';
import type { Nexus } from '../command.js';
import { immediate, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import { GOOD, RESERVATION_CONFLICT, TASK_ABORTED, type Outcome } from '../outcome.js';
import { Sense } from '../sense-reasons.js';
import { storeFailureSense } from './store-failure.js';
import type { ReservationState } from './state.js';
import { admitsRegistrants } from './types.js';

/**
 * SPC-2 RESERVE / RELEASE (6 and 10), logical unit reservations only: no extents and no
 * third-party reservations (those bits are refused).
 */

/**
 * While persistent registrations exist, RESERVE and RELEASE yield to them (SPC-4 5.13.3, what
 * REPORT CAPABILITIES announces as CRH = 1): GOOD without effect from a persistent reservation
 * holder, or from a registrant under a registrants-only or all-registrants type; RESERVATION
 * CONFLICT from anyone else (SPC-2 5.5.1: registrations make RESERVE and RELEASE conflict).
 * Undefined when no registration exists and the SPC-2 rules apply.
 */
function yieldToPersistent(state: ReservationState, nexus: Nexus): Outcome | undefined {
  if (!state.hasRegistrations) return undefined;
  const reg = state.registrationOf(nexus);
  const r = state.reservation;
  const noOp = reg !== undefined && r !== undefined && (state.isHolder(reg) || admitsRegistrants(r.type));
  return noOp ? GOOD : RESERVATION_CONFLICT;
}

interface LegacyResult {
  readonly outcome: Outcome;
  readonly changed: boolean;
}

function doReserve(state: ReservationState, nexus: Nexus): LegacyResult {
  const persistent = yieldToPersistent(state, nexus);
  if (persistent) return { outcome: persistent, changed: false };
  if (state.holdsLegacy(nexus)) return { outcome: GOOD, changed: false };
  if (state.legacyReserved) return { outcome: RESERVATION_CONFLICT, changed: false };
  state.setLegacy(nexus);
  return { outcome: GOOD, changed: true };
}

/** RELEASE from a nexus that holds nothing is GOOD and changes nothing (SPC-2 7.17). */
function doRelease(state: ReservationState, nexus: Nexus): LegacyResult {
  const persistent = yieldToPersistent(state, nexus);
  if (persistent) return { outcome: persistent, changed: false };
  if (!state.holdsLegacy(nexus)) return { outcome: GOOD, changed: false };
  state.setLegacy(undefined);
  return { outcome: GOOD, changed: true };
}

/**
 * Cluster mode: the SPC-2 reservation is in the shared store like the persistent one, so RESERVE
 * and RELEASE are compare-and-swaps there, in force once committed.
 */
function sharedLegacy(state: ReservationState, nexus: Nexus, act: typeof doReserve): ParsedCommand {
  return {
    dataOutLength: 0,
    async run({ signal }) {
      try {
        const result = await state.change(() => act(state, nexus), () => signal.aborted);
        return result ? result.outcome : TASK_ABORTED;
      } catch (err) {
        return storeFailureSense(err);
      }
    },
  };
}

function legacy(name: string, opcode: number, cdbLength: 6 | 10, release: boolean): LuCommandHandler {
  // 6: byte 1 bit 4 3RDPTY, bits 3-1 third party id, bit 0 EXTENT. 10: bit 4 3RDPTY, bit 1 LONGID.
  const refused = cdbLength === 6 ? 0x1f : 0x12;
  const usage = cdbLength === 6 ? [opcode, 0, 0, 0, 0, 0] : [opcode, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  return {
    name,
    opcode,
    cdbLength,
    usage,
    cls: 'other',
    parse({ cdb, lu, nexus }) {
      const control = checkControlByte(cdb, cdbLength);
      if (control) return control;
      const bad = cdb[1]! & refused;
      if (bad) return Sense.invalidFieldInCdb(1, 31 - Math.clz32(bad));
      const act = release ? doRelease : doReserve;
      if (lu.reservations.isShared) return sharedLegacy(lu.reservations, nexus, act);
      return immediate(() => act(lu.reservations, nexus).outcome);
    },
  };
}

export const reserveReleaseHandlers: readonly LuCommandHandler[] = [
  legacy('RESERVE(6)', 0x16, 6, false),
  legacy('RELEASE(6)', 0x17, 6, true),
  legacy('RESERVE(10)', 0x56, 10, false),
  legacy('RELEASE(10)', 0x57, 10, true),
];
