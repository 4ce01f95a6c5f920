import { checkControlByte, truncateToAllocation } from '../cdb.js';
import { parameterData, type LuCommandHandler } from '../handler.js';
import { goodData } from '../outcome.js';
import { storeFailureSense } from './store-failure.js';
import type { ReservationState } from './state.js';
import { encodeIscsiTransportId } from './transport-id.js';
import { isAllRegistrants, LU_SCOPE } from './types.js';

export const PERSISTENT_RESERVE_IN = 0x5e;

export const PrInAction = {
  READ_KEYS: 0x00,
  READ_RESERVATION: 0x01,
  REPORT_CAPABILITIES: 0x02,
  READ_FULL_STATUS: 0x03,
} as const;

function header(state: ReservationState, additional: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(state.generation, 0);
  b.writeUInt32BE(additional, 4);
  return b;
}

export function readKeys(state: ReservationState): Buffer {
  const keys = state.registrations().map((r) => {
    const k = Buffer.alloc(8);
    k.writeBigUInt64BE(r.key);
    return k;
  });
  return Buffer.concat([header(state, keys.length * 8), ...keys]);
}

/** All-registrants reservations report key 0 (SPC-4 6.15.3.3). */
export function readReservation(state: ReservationState): Buffer {
  const r = state.reservation;
  if (!r) return header(state, 0);
  const d = Buffer.alloc(16);
  d.writeBigUInt64BE(isAllRegistrants(r.type) ? 0n : r.holder.key, 0);
  d[13] = (LU_SCOPE << 4) | r.type;
  return Buffer.concat([header(state, 16), d]);
}

/**
 * REPORT CAPABILITIES: CRH (RESERVE/RELEASE yield to persistent reservations), PTPL_C (APTPL
 * supported) and PTPL_A (active), TMV with ALLOW COMMANDS 001b (TEST UNIT READY is allowed under
 * every type), all six types. SPEC_I_PT and ALL_TG_PT are not supported (SIP_C = ATP_C = 0).
 */
export function reportCapabilities(state: ReservationState): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(8, 0);
  b[2] = 0x10 | 0x01; // CRH, PTPL_C
  b[3] = 0x80 | (0x1 << 4) | (state.aptpl ? 0x01 : 0); // TMV, ALLOW COMMANDS, PTPL_A
  b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
  b[5] = 0x01; // EX_AC_AR
  return b;
}

export function readFullStatus(state: ReservationState): Buffer {
  const descriptors = state.registrations().map((reg) => {
    const tid = encodeIscsiTransportId(reg.initiatorPort);
    const d = Buffer.alloc(24 + tid.length);
    d.writeBigUInt64BE(reg.key, 0);
    if (state.isHolder(reg)) {
      d[12] = 0x01; // R_HOLDER
      d[13] = (LU_SCOPE << 4) | state.reservation!.type;
    }
    d.writeUInt16BE(reg.relativeTargetPortId, 18);
    d.writeUInt32BE(tid.length, 20);
    tid.copy(d, 24);
    return d;
  });
  const body = Buffer.concat(descriptors);
  return Buffer.concat([header(state, body.length), body]);
}

function prIn(name: string, serviceAction: number, build: (state: ReservationState) => Buffer): LuCommandHandler {
  return {
    name: `PERSISTENT RESERVE IN (${name})`,
    opcode: PERSISTENT_RESERVE_IN,
    serviceAction,
    cdbLength: 10,
    usage: [PERSISTENT_RESERVE_IN, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x00],
    cls: 'other',
    parse({ cdb, lu }) {
      const control = checkControlByte(cdb, 10);
      if (control) return control;
      const allocation = cdb.readUInt16BE(7);
      const state = lu.reservations;
      if (!state.isShared) return parameterData(() => build(state), allocation);
      return {
        dataOutLength: 0,
        // Cluster mode: another node may have changed the state a moment ago; answer with the newest.
        async run() {
          try {
            await state.catchUp();
          } catch (err) {
            return storeFailureSense(err);
          }
          return goodData(truncateToAllocation(build(state), allocation));
        },
      };
    },
  };
}

export const prInHandlers: readonly LuCommandHandler[] = [
  prIn('READ KEYS', PrInAction.READ_KEYS, readKeys),
  prIn('READ RESERVATION', PrInAction.READ_RESERVATION, readReservation),
  prIn('REPORT CAPABILITIES', PrInAction.REPORT_CAPABILITIES, reportCapabilities),
  prIn('READ FULL STATUS', PrInAction.READ_FULL_STATUS, readFullStatus),
];
