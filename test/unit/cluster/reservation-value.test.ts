/** The stored form of an LU's reservations in etcd (src/cluster/etcd-reservations.ts). */
import { describe, expect, it } from 'vitest';
import { decodeReservations, encodeReservations } from '../../../src/cluster/etcd-reservations.js';
import type { PrEffects, SharedPrState } from '../../../src/scsi/pr/types.js';

const state: SharedPrState = {
  generation: 7,
  aptpl: true,
  registrations: [
    { initiatorPort: 'iqn.2026-01.io.example:h1,i,0x00023d000001', targetPort: 'iqn.2026-01.io.scatter:t,t,0x0001', relativeTargetPortId: 1, key: '00000000000000aa' },
    { initiatorPort: 'iqn.2026-01.io.example:h2,i,0x00023d000001', targetPort: 'iqn.2026-01.io.scatter:t,t,0x0002', relativeTargetPortId: 2, key: 'ffffffffffffffff' },
  ],
  reservation: { holder: 1, type: 5 },
  legacy: { initiatorPort: 'iqn.2026-01.io.example:h1,i,0x00023d000001', targetPort: 'iqn.2026-01.io.scatter:t,t,0x0001' },
};
const effects: PrEffects = {
  id: 'c0ffee',
  attentions: [{ initiatorPort: 'iqn.2026-01.io.example:h1,i,0x00023d000001', targetPort: 'iqn.2026-01.io.scatter:t,t,0x0001', asc: 0x2a, ascq: 0x05 }],
  aborts: [{ initiatorPort: 'iqn.2026-01.io.example:h1,i,0x00023d000001', targetPort: 'iqn.2026-01.io.scatter:t,t,0x0001' }],
};

describe('stored reservations', () => {
  it('round-trip with and without the effects of the change', () => {
    expect(decodeReservations(encodeReservations('n1', state, effects), 'k')).toEqual({ state, effects });
    expect(decodeReservations(encodeReservations('n1', state), 'k')).toEqual({ state });
    expect(JSON.parse(encodeReservations('n1', state))).toMatchObject({ version: 1, node: 'n1' });
  });

  it('refuses what is not a reservation state, naming the key and the field', () => {
    expect(() => decodeReservations('{', 'etcd key /x')).toThrow(/etcd key \/x: not JSON/);
    const bad = (over: object) => JSON.stringify({ version: 1, node: 'n', state: { ...state, ...over } });
    expect(() => decodeReservations(bad({ generation: -1 }), 'k')).toThrow(/state\.generation/);
    expect(() => decodeReservations(bad({ reservation: { holder: 0, type: 2 } }), 'k')).toThrow(/state\.reservation\.type/);
    expect(() => decodeReservations(bad({ reservation: { holder: 2, type: 1 } }), 'k')).toThrow(/no such registration/);
    expect(() => decodeReservations(bad({ aptpl: 'yes' }), 'k')).toThrow(/state\.aptpl/);
    expect(() => decodeReservations(JSON.stringify({ version: 2, node: 'n', state }), 'k')).toThrow(/version/);
  });
});
