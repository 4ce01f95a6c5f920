import type { Nexus } from '../command.js';
import { GOOD, RESERVATION_CONFLICT, type Outcome } from '../outcome.js';
import { Asc, Sense } from '../sense-reasons.js';
import type { ReservationState } from './state.js';
import { decodeIscsiTransportId } from './transport-id.js';
import { admitsRegistrants, isAllRegistrants, type PrTypeCode, type Registration } from './types.js';

export const PrOutAction = {
  REGISTER: 0x00,
  RESERVE: 0x01,
  RELEASE: 0x02,
  CLEAR: 0x03,
  PREEMPT: 0x04,
  PREEMPT_AND_ABORT: 0x05,
  REGISTER_AND_IGNORE_EXISTING_KEY: 0x06,
  REGISTER_AND_MOVE: 0x07,
} as const;

/** The basic PR OUT parameter list (SPC-4 6.16.3) is 24 bytes. */
export const BASIC_PARAMETER_LENGTH = 24;

export interface PrOutRequest {
  readonly action: number;
  readonly type: PrTypeCode;
  /** The whole parameter list. */
  readonly params: Buffer;
}

export interface PrOutResult {
  readonly outcome: Outcome;
  /** State to persist changed (registrations, keys, reservation, generation or APTPL). */
  readonly changed: boolean;
  /** Registrations removed by PREEMPT (AND ABORT): whose tasks PREEMPT AND ABORT ends. */
  readonly preempted: readonly Registration[];
}

const unchanged = (outcome: Outcome): PrOutResult => ({ outcome, changed: false, preempted: [] });
const CONFLICT = unchanged(RESERVATION_CONFLICT);
const DONE: PrOutResult = { outcome: GOOD, changed: true, preempted: [] };

function portsOf(nexus: Nexus): Omit<Registration, 'key'> {
  return { initiatorPort: nexus.initiatorPort, targetPort: nexus.targetPort, relativeTargetPortId: nexus.relativeTargetPortId };
}

/** Carries out one PERSISTENT RESERVE OUT service action on the LU's state (SPC-4 5.13). */
export function applyPrOut(state: ReservationState, nexus: Nexus, req: PrOutRequest): PrOutResult {
  const p = req.params;
  const key = p.readBigUInt64BE(0);
  const sark = p.readBigUInt64BE(8);
  const reg = state.registrationOf(nexus);

  if (req.action === PrOutAction.REGISTER || req.action === PrOutAction.REGISTER_AND_IGNORE_EXISTING_KEY) {
    return register(state, nexus, reg, req, key, sark);
  }
  if (req.action !== PrOutAction.REGISTER_AND_MOVE) {
    if (p[20]! & 0x08) return unchanged(Sense.invalidFieldInParameterList(20, 3)); // SPEC_I_PT
    if (p.length !== BASIC_PARAMETER_LENGTH) return unchanged(Sense.parameterListLengthError);
  }
  // Every other service action needs a registered nexus presenting its key.
  if (!reg || reg.key !== key) return CONFLICT;
  switch (req.action) {
    case PrOutAction.RESERVE:
      return reserve(state, reg, req.type);
    case PrOutAction.RELEASE:
      return release(state, nexus, reg, req.type);
    case PrOutAction.CLEAR: {
      const all = state.registrations();
      state.clearAll();
      state.bumpGeneration();
      state.notify(all, ...Asc.RESERVATIONS_PREEMPTED, nexus);
      return DONE;
    }
    case PrOutAction.PREEMPT:
    case PrOutAction.PREEMPT_AND_ABORT:
      return preempt(state, nexus, reg, req.type, sark);
    default:
      return registerAndMove(state, nexus, reg, p, sark);
  }
}

function register(
  state: ReservationState,
  nexus: Nexus,
  reg: Registration | undefined,
  req: PrOutRequest,
  key: bigint,
  sark: bigint,
): PrOutResult {
  const p = req.params;
  if (p[20]! & 0x08) return unchanged(Sense.invalidFieldInParameterList(20, 3)); // SPEC_I_PT
  if (p[20]! & 0x04) return unchanged(Sense.invalidFieldInParameterList(20, 2)); // ALL_TG_PT
  if (p.length !== BASIC_PARAMETER_LENGTH) return unchanged(Sense.parameterListLengthError);
  const ignoreKey = req.action === PrOutAction.REGISTER_AND_IGNORE_EXISTING_KEY;
  const aptpl = (p[20]! & 0x01) !== 0;
  if (!reg) {
    if (!ignoreKey && key !== 0n) return CONFLICT;
    if (sark === 0n) return unchanged(GOOD);
    state.addRegistration(portsOf(nexus), sark);
    state.aptpl = aptpl;
    state.bumpGeneration();
    return DONE;
  }
  if (!ignoreKey && key !== reg.key) return CONFLICT;
  if (sark === 0n) {
    const type = state.reservation?.type;
    const released = state.removeRegistration(reg);
    // Losing a registrants-only reservation this way is news to the other registrants.
    if (released && type !== undefined && admitsRegistrants(type) && !isAllRegistrants(type)) {
      state.notify(state.registrations(), ...Asc.RESERVATIONS_RELEASED, nexus);
    }
  } else {
    reg.key = sark;
    state.aptpl = aptpl;
  }
  state.bumpGeneration();
  return DONE;
}

function reserve(state: ReservationState, reg: Registration, type: PrTypeCode): PrOutResult {
  const r = state.reservation;
  if (r) return state.isHolder(reg) && r.type === type ? unchanged(GOOD) : CONFLICT;
  state.reservation = { holder: reg, type };
  return DONE;
}

function release(state: ReservationState, nexus: Nexus, reg: Registration, type: PrTypeCode): PrOutResult {
  const r = state.reservation;
  if (!r || !state.isHolder(reg)) return unchanged(GOOD);
  if (r.type !== type) return unchanged(Sense.invalidReleaseOfPersistentReservation);
  state.reservation = undefined;
  if (admitsRegistrants(r.type)) state.notify(state.registrations(), ...Asc.RESERVATIONS_RELEASED, nexus);
  return DONE;
}

function preempt(state: ReservationState, nexus: Nexus, reg: Registration, type: PrTypeCode, sark: bigint): PrOutResult {
  const r = state.reservation;
  const all = state.registrations();
  if (r && isAllRegistrants(r.type) && sark === 0n) {
    // Everyone else goes; the reservation is made anew for this nexus.
    const victims = all.filter((g) => g !== reg);
    return replaceReservation(state, nexus, reg, type, victims, false);
  }
  if (r && !isAllRegistrants(r.type) && sark === r.holder.key) {
    const victims = all.filter((g) => g.key === sark && g !== reg);
    return replaceReservation(state, nexus, reg, type, victims, r.type !== type);
  }
  // No reservation to take over: only remove the registrations with that key.
  if (sark === 0n) return unchanged(Sense.invalidFieldInParameterList(8));
  const victims = all.filter((g) => g.key === sark);
  if (victims.length === 0) return CONFLICT;
  for (const v of victims) state.removeRegistration(v);
  state.notify(victims, ...Asc.REGISTRATIONS_PREEMPTED, nexus);
  state.bumpGeneration();
  return { outcome: GOOD, changed: true, preempted: victims };
}

function replaceReservation(
  state: ReservationState,
  nexus: Nexus,
  reg: Registration,
  type: PrTypeCode,
  victims: Registration[],
  typeChanged: boolean,
): PrOutResult {
  for (const v of victims) state.removeRegistration(v);
  state.reservation = { holder: reg, type };
  state.notify(victims, ...Asc.REGISTRATIONS_PREEMPTED, nexus);
  if (typeChanged) state.notify(state.registrations(), ...Asc.RESERVATIONS_RELEASED, nexus);
  state.bumpGeneration();
  return { outcome: GOOD, changed: true, preempted: victims };
}

/** REGISTER AND MOVE parameter list (SPC-4 6.16.4): the TransportID starts at byte 24. */
function registerAndMove(state: ReservationState, nexus: Nexus, reg: Registration, p: Buffer, sark: bigint): PrOutResult {
  const r = state.reservation;
  if (!r || !state.isHolder(reg) || isAllRegistrants(r.type)) return CONFLICT;
  if (sark === 0n) return unchanged(Sense.invalidFieldInParameterList(8));
  const tidLength = p.readUInt32BE(20);
  if (BASIC_PARAMETER_LENGTH + tidLength > p.length) return unchanged(Sense.parameterListLengthError);
  const tid = decodeIscsiTransportId(p.subarray(BASIC_PARAMETER_LENGTH, BASIC_PARAMETER_LENGTH + tidLength));
  if (!tid.ok) return unchanged(Sense.invalidFieldInParameterList(BASIC_PARAMETER_LENGTH + tid.byte));
  // This target has one port per target; the relative port id must name it.
  const relativeTargetPortId = p.readUInt16BE(18);
  if (relativeTargetPortId !== nexus.relativeTargetPortId) return unchanged(Sense.invalidFieldInParameterList(18));
  const targetPort = nexus.targetPort;
  if (tid.initiatorPort.toLowerCase() === nexus.initiatorPort.toLowerCase()) {
    return unchanged(Sense.invalidFieldInParameterList(BASIC_PARAMETER_LENGTH + 4));
  }
  let dest = state.registrationByPorts(tid.initiatorPort, targetPort);
  if (dest) dest.key = sark;
  else dest = state.addRegistration({ initiatorPort: tid.initiatorPort, targetPort, relativeTargetPortId }, sark);
  state.reservation = { holder: dest, type: r.type };
  if (p[17]! & 0x02) state.removeRegistration(reg); // UNREG
  state.aptpl = (p[17]! & 0x01) !== 0;
  state.bumpGeneration();
  return DONE;
}
