import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../../src/scsi/command.js';
import { moveParams, prOutCdb, prOutParams, SA, TYPES } from '../../../helpers/pr.js';
import { gate, run, send, sense, settle } from '../fixture.js';
import { write10 } from '../../../helpers/cdb.js';
import { basic, prOut, prSetup, readKeys, readReservation, TUR } from './pr-fixture.js';

const { GOOD, CHECK_CONDITION, RESERVATION_CONFLICT, TASK_ABORTED } = ScsiStatus;
const K1 = 0x1111n;
const K2 = 0x2222n;
const K3 = 0x3333n;
const UA = (ascq: number) => ({ key: 6, asc: 0x2a, ascq });

describe('PERSISTENT RESERVE OUT: REGISTER', () => {
  it('registers, changes and removes a key, counting generations', async () => {
    const { core, a } = await prSetup();
    expect((await basic(core, a, SA.REGISTER, 0, 5n, K1)).status).toBe(RESERVATION_CONFLICT); // unregistered, key != 0
    expect((await basic(core, a, SA.REGISTER, 0, 0n, 0n)).status).toBe(GOOD); // nothing to do
    expect(await readKeys(core, a)).toEqual({ generation: 0, keys: [] });
    expect((await basic(core, a, SA.REGISTER, 0, 0n, K1)).status).toBe(GOOD);
    expect(await readKeys(core, a)).toEqual({ generation: 1, keys: [K1] });
    expect((await basic(core, a, SA.REGISTER, 0, K2, K3)).status).toBe(RESERVATION_CONFLICT); // wrong key
    expect((await basic(core, a, SA.REGISTER, 0, K1, K3)).status).toBe(GOOD);
    expect(await readKeys(core, a)).toEqual({ generation: 2, keys: [K3] });
    expect((await basic(core, a, SA.REGISTER, 0, K3, 0n)).status).toBe(GOOD);
    expect(await readKeys(core, a)).toEqual({ generation: 3, keys: [] });
  });

  it('REGISTER AND IGNORE EXISTING KEY does not look at the key', async () => {
    const { core, a } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    expect((await basic(core, a, SA.REGISTER_AND_IGNORE, 0, 0xdeadn, K2)).status).toBe(GOOD);
    expect((await readKeys(core, a)).keys).toEqual([K2]);
  });

  it('refuses SPEC_I_PT and ALL_TG_PT (not supported) and a wrong parameter list length', async () => {
    const { core, a } = await prSetup();
    const spec = await basic(core, a, SA.REGISTER, 0, 0n, K1, { specIPt: true });
    expect(spec.status).toBe(CHECK_CONDITION);
    expect(sense(spec)).toMatchObject({ key: 5, asc: 0x26, ascq: 0, fieldPointer: { cd: false, byte: 20, bit: 3 } });
    const all = await basic(core, a, SA.REGISTER, 0, 0n, K1, { allTgPt: true });
    expect(sense(all)).toMatchObject({ key: 5, asc: 0x26, fieldPointer: { cd: false, byte: 20, bit: 2 } });
    const short = await run(core, prOutCdb(SA.REGISTER, 0, 20), { nexus: a, data: Buffer.alloc(20) });
    expect(sense(short)).toMatchObject({ key: 5, asc: 0x1a, ascq: 0 });
    const long = await prOut(core, a, SA.REGISTER, 0, Buffer.concat([prOutParams(0n, K1), Buffer.alloc(4)]));
    expect(sense(long)).toMatchObject({ key: 5, asc: 0x1a, ascq: 0 });
    expect((await readKeys(core, a)).keys).toEqual([]);
  });
});

describe('PERSISTENT RESERVE OUT: RESERVE and RELEASE', () => {
  it('needs a registered nexus with its key; holds one type; RESERVE keeps the generation', async () => {
    const { core, a, b } = await prSetup();
    expect((await basic(core, a, SA.RESERVE, TYPES.WE, 0n, 0n)).status).toBe(RESERVATION_CONFLICT);
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    expect((await basic(core, a, SA.RESERVE, TYPES.WE, K2, 0n)).status).toBe(RESERVATION_CONFLICT);
    expect((await basic(core, a, SA.RESERVE, TYPES.WE, K1, 0n)).status).toBe(GOOD);
    expect((await basic(core, a, SA.RESERVE, TYPES.WE, K1, 0n)).status).toBe(GOOD);
    expect((await basic(core, a, SA.RESERVE, TYPES.EA, K1, 0n)).status).toBe(RESERVATION_CONFLICT);
    expect((await basic(core, b, SA.RESERVE, TYPES.WE, K2, 0n)).status).toBe(RESERVATION_CONFLICT);
    expect(await readReservation(core, b)).toEqual({ generation: 2, key: K1, type: TYPES.WE });
  });

  it('refuses a bad TYPE or SCOPE in the CDB', async () => {
    const { core, a } = await prSetup();
    const type = await run(core, prOutCdb(SA.RESERVE, 2), { nexus: a, data: prOutParams(K1, 0n) });
    expect(sense(type)).toMatchObject({ key: 5, asc: 0x24, fieldPointer: { cd: true, byte: 2, bit: 3 } });
    const scope = await run(core, prOutCdb(SA.RESERVE, 1, 24, 1), { nexus: a, data: prOutParams(K1, 0n) });
    expect(sense(scope)).toMatchObject({ key: 5, asc: 0x24, fieldPointer: { cd: true, byte: 2, bit: 7 } });
  });

  it('RELEASE: a non-holder changes nothing, a wrong type is an INVALID RELEASE', async () => {
    const { core, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    await basic(core, a, SA.RESERVE, TYPES.EA, K1, 0n);
    expect((await basic(core, b, SA.RELEASE, TYPES.EA, K2, 0n)).status).toBe(GOOD);
    expect((await readReservation(core, a))?.type).toBe(TYPES.EA);
    const wrong = await basic(core, a, SA.RELEASE, TYPES.WE, K1, 0n);
    expect(sense(wrong)).toMatchObject({ key: 5, asc: 0x26, ascq: 0x04 });
    expect((await basic(core, a, SA.RELEASE, TYPES.EA, K1, 0n)).status).toBe(GOOD);
    expect(await readReservation(core, a)).toBeUndefined();
    // Releasing an EA reservation tells nobody.
    expect((await run(core, TUR, { nexus: b })).status).toBe(GOOD);
  });

  it('releasing a registrants-only reservation, or its holder unregistering, tells the other registrants (2Ah/04h)', async () => {
    const { core, a, b, c } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    await basic(core, a, SA.RESERVE, TYPES.WE_RO, K1, 0n);
    await basic(core, a, SA.RELEASE, TYPES.WE_RO, K1, 0n);
    expect(sense(await run(core, TUR, { nexus: b }))).toEqual(UA(0x04));
    expect((await run(core, TUR, { nexus: c }))).toMatchObject({ status: GOOD }); // not registered
    expect((await run(core, TUR, { nexus: a })).status).toBe(GOOD); // the issuer

    await basic(core, a, SA.RESERVE, TYPES.EA_RO, K1, 0n);
    await basic(core, a, SA.REGISTER, 0, K1, 0n);
    expect(sense(await run(core, TUR, { nexus: b }))).toEqual(UA(0x04));
    expect(await readReservation(core, b)).toBeUndefined();
  });

  it('an all-registrants reservation survives its creator unregistering, until the last registrant goes', async () => {
    const { core, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    await basic(core, a, SA.RESERVE, TYPES.EA_AR, K1, 0n);
    expect(await readReservation(core, b)).toMatchObject({ key: 0n, type: TYPES.EA_AR });
    await basic(core, a, SA.REGISTER, 0, K1, 0n);
    expect(await readReservation(core, b)).toMatchObject({ key: 0n, type: TYPES.EA_AR });
    await basic(core, b, SA.REGISTER, 0, K2, 0n);
    expect(await readReservation(core, b)).toBeUndefined();
  });
});

describe('PERSISTENT RESERVE OUT: CLEAR and PREEMPT', () => {
  it('CLEAR drops everything and reports RESERVATIONS PREEMPTED to the others', async () => {
    const { core, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    await basic(core, a, SA.RESERVE, TYPES.WE, K1, 0n);
    expect((await basic(core, b, SA.CLEAR, 0, K1, 0n)).status).toBe(RESERVATION_CONFLICT); // b's key is K2
    expect((await basic(core, b, SA.CLEAR, 0, K2, 0n)).status).toBe(GOOD);
    expect(await readKeys(core, b)).toEqual({ generation: 3, keys: [] });
    expect(await readReservation(core, b)).toBeUndefined();
    expect(sense(await run(core, TUR, { nexus: a }))).toEqual(UA(0x03));
    expect((await run(core, TUR, { nexus: b })).status).toBe(GOOD);
  });

  it('PREEMPT takes over the holder: its registration goes (2Ah/05h), others learn of the type change (2Ah/04h)', async () => {
    const { core, a, b, c } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    await basic(core, c, SA.REGISTER, 0, 0n, K3);
    await basic(core, a, SA.RESERVE, TYPES.WE, K1, 0n);
    expect((await basic(core, b, SA.PREEMPT, TYPES.EA, K2, K1)).status).toBe(GOOD);
    expect(sense(await run(core, TUR, { nexus: a }))).toEqual(UA(0x05));
    expect(sense(await run(core, TUR, { nexus: c }))).toEqual(UA(0x04));
    expect(await readReservation(core, c)).toEqual({ generation: 4, key: K2, type: TYPES.EA });
    expect((await readKeys(core, c)).keys.sort((x, y) => (x < y ? -1 : 1))).toEqual([K2, K3]);
  });

  it('PREEMPT without a reservation removes registrations by key; zero or unknown keys are refused', async () => {
    const { core, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    expect(sense(await basic(core, a, SA.PREEMPT, TYPES.WE, K1, 0n))).toMatchObject({ key: 5, asc: 0x26, fieldPointer: { cd: false, byte: 8 } });
    expect((await basic(core, a, SA.PREEMPT, TYPES.WE, K1, 0x9999n)).status).toBe(RESERVATION_CONFLICT);
    expect((await basic(core, a, SA.PREEMPT, TYPES.WE, K1, K2)).status).toBe(GOOD);
    expect((await readKeys(core, a)).keys).toEqual([K1]);
    expect(await readReservation(core, a)).toBeUndefined();
    expect(sense(await run(core, TUR, { nexus: b }))).toEqual(UA(0x05));
  });

  it('PREEMPT of an all-registrants reservation with key 0 removes every other registrant', async () => {
    const { core, a, b, c } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    await basic(core, c, SA.REGISTER, 0, 0n, K3);
    await basic(core, a, SA.RESERVE, TYPES.WE_AR, K1, 0n);
    expect((await basic(core, b, SA.PREEMPT, TYPES.EA, K2, 0n)).status).toBe(GOOD);
    expect((await readKeys(core, b)).keys).toEqual([K2]);
    expect(await readReservation(core, b)).toMatchObject({ key: K2, type: TYPES.EA });
    expect(sense(await run(core, TUR, { nexus: a }))).toEqual(UA(0x05));
    expect(sense(await run(core, TUR, { nexus: c }))).toEqual(UA(0x05));
  });

  it('PREEMPT AND ABORT ends the preempted nexus tasks, in I/O or queued, with TASK ABORTED', async () => {
    const { core, dev, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, b, SA.REGISTER, 0, 0n, K2);
    await basic(core, a, SA.RESERVE, TYPES.WE_RO, K1, 0n);
    const g = gate();
    dev.beforeIo = () => g.promise;
    const inIo = send(core, write10(0, 1), { nexus: a, data: Buffer.alloc(512) });
    const queued = send(core, write10(1, 1), { nexus: a, data: Buffer.alloc(512), attr: 'ordered' });
    await settle();
    const preempt = send(core, prOutCdb(SA.PREEMPT_AND_ABORT, TYPES.EA, 24), {
      nexus: b,
      data: prOutParams(K2, K1),
      attr: 'headOfQueue',
    });
    await settle();
    expect((await queued.response).status).toBe(TASK_ABORTED);
    g.open();
    expect((await inIo.response).status).toBe(TASK_ABORTED);
    expect((await preempt.response).status).toBe(GOOD);
    expect(await readReservation(core, b)).toMatchObject({ key: K2, type: TYPES.EA });
  });
});

describe('PERSISTENT RESERVE OUT: REGISTER AND MOVE', () => {
  it('moves the reservation to another I_T nexus, registering it, and can unregister the source', async () => {
    const { core, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    await basic(core, a, SA.RESERVE, TYPES.EA, K1, 0n);
    const params = moveParams(K1, K2, b.initiatorPort, a.relativeTargetPortId, true);
    expect((await prOut(core, a, SA.REGISTER_AND_MOVE, TYPES.EA, params)).status).toBe(GOOD);
    expect(await readKeys(core, b)).toEqual({ generation: 2, keys: [K2] });
    expect(await readReservation(core, b)).toMatchObject({ key: K2, type: TYPES.EA });
    // b now holds EA: a (unregistered) is shut out.
    expect((await run(core, write10(0, 1), { nexus: a, data: Buffer.alloc(512) })).status).toBe(RESERVATION_CONFLICT);
  });

  it('refuses a non-holder, a move to itself, an unknown target port and a zero key', async () => {
    const { core, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, K1);
    const noRes = moveParams(K1, K2, b.initiatorPort, 1);
    expect((await prOut(core, a, SA.REGISTER_AND_MOVE, TYPES.WE, noRes)).status).toBe(RESERVATION_CONFLICT);
    await basic(core, a, SA.RESERVE, TYPES.WE, K1, 0n);
    const self = await prOut(core, a, SA.REGISTER_AND_MOVE, TYPES.WE, moveParams(K1, K2, a.initiatorPort, 1));
    expect(sense(self)).toMatchObject({ key: 5, asc: 0x26 });
    const port = await prOut(core, a, SA.REGISTER_AND_MOVE, TYPES.WE, moveParams(K1, K2, b.initiatorPort, 7));
    expect(sense(port)).toMatchObject({ key: 5, asc: 0x26, fieldPointer: { cd: false, byte: 18 } });
    const zero = await prOut(core, a, SA.REGISTER_AND_MOVE, TYPES.WE, moveParams(K1, 0n, b.initiatorPort, 1));
    expect(sense(zero)).toMatchObject({ key: 5, asc: 0x26, fieldPointer: { cd: false, byte: 8 } });
    const cut = moveParams(K1, K2, b.initiatorPort, 1).subarray(0, 30);
    expect(sense(await prOut(core, a, SA.REGISTER_AND_MOVE, TYPES.WE, cut))).toMatchObject({ key: 5, asc: 0x1a });
    expect(await readReservation(core, a)).toMatchObject({ key: K1 });
  });
});
