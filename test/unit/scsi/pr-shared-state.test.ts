/**
 * ReservationState over a shared store (cluster mode), with an in-memory store whose per-node
 * "watch" can be held back: a lost compare-and-swap re-runs the whole action on the newer state, a
 * node's own change coming back through its watch establishes nothing twice, a store that cannot be
 * reached changes nothing and answers ABORTED COMMAND, and a change that lands although its commit
 * failed still brings its effects.
 */
import { describe, expect, it } from 'vitest';
import { ScsiStatus, type Nexus } from '../../../src/scsi/command.js';
import {
  PrStoreUnavailableError,
  type PrEffects,
  type PrRecord,
  type SharedPrState,
  type SharedReservationStore,
} from '../../../src/scsi/pr/types.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { SA, TYPES } from '../../helpers/pr.js';
import { makeLu, run, sense, TARGET } from './fixture.js';
import { basic, readKeys, TUR } from './pr/pr-fixture.js';

const { GOOD, CHECK_CONDITION } = ScsiStatus;

/** The "etcd" of these tests: one key, every version kept. */
class MemEtcd {
  readonly records: PrRecord[] = [];
  readonly views: MemView[] = [];

  get newest(): PrRecord {
    return this.records.at(-1) ?? { revision: 0n, base: 0n, state: undefined };
  }

  put(state: SharedPrState, effects: PrEffects): bigint {
    const revision = this.newest.revision + 1n;
    const record: PrRecord = { revision, base: revision, state: structuredClone(state), effects: structuredClone(effects) };
    this.records.push(record);
    for (const v of this.views) v.arrive(record);
    return revision;
  }

  view(): MemView {
    const v = new MemView(this);
    this.views.push(v);
    return v;
  }
}

/** One node's view: records arrive in order, delivered at once unless `held`. */
class MemView implements SharedReservationStore {
  readonly kind = 'shared';
  held = false;
  commits = 0;
  /**
   * The next commit fails like an unreachable etcd; its write is applied all the same when `land`
   * says so: 'before' the failure (the watch brings it while the answer is lost) or 'after' it.
   */
  failNext: { land: false | 'before' | 'after' } | undefined;
  private record: PrRecord;
  private readonly queue: PrRecord[] = [];
  private readonly listeners = new Set<(r: PrRecord) => void>();

  constructor(private readonly etcd: MemEtcd) {
    this.record = etcd.newest;
  }

  current(): PrRecord {
    return this.record;
  }

  subscribe(listener: (r: PrRecord) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  commit(state: SharedPrState, effects: PrEffects, base: bigint): Promise<bigint | undefined> {
    this.commits++;
    const fail = this.failNext;
    this.failNext = undefined;
    if (fail) {
      if (fail.land === 'before') this.etcd.put(state, effects);
      if (fail.land === 'after') setImmediate(() => this.etcd.put(state, effects));
      return Promise.reject(new PrStoreUnavailableError('etcd: no answer within 10 ms', true));
    }
    if (this.etcd.newest.base !== base) return Promise.resolve(undefined);
    return Promise.resolve(this.etcd.put(state, effects));
  }

  /** Like the real one: everything the store holds now is delivered before it resolves. */
  sync(): Promise<void> {
    this.release();
    return Promise.resolve();
  }

  arrive(record: PrRecord): void {
    this.queue.push(record);
    if (!this.held) this.release();
  }

  release(): void {
    for (const r of this.queue.splice(0)) {
      this.record = r;
      for (const l of this.listeners) l(r);
    }
  }
}

async function nodeOn(etcd: MemEtcd, dev: MemDevice, tpgt: number) {
  const store = etcd.view();
  const lu = makeLu(dev, { reservationStore: store });
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
  const nexus = async (id: number, host: string): Promise<Nexus> => {
    const n: Nexus = { id, initiatorPort: `iqn.2026-01.io.example:${host},i,0x00023d000001`, targetPort: `${TARGET},t,0x000${tpgt}`, relativeTargetPortId: tpgt };
    core.addNexus(n);
    await run(core, TUR, { nexus: n });
    return n;
  };
  return { store, lu, core, nexus };
}

describe('ReservationState over a shared store', () => {
  it('a lost compare-and-swap re-runs the action on the newer state', async () => {
    const etcd = new MemEtcd();
    const dev = new MemDevice(64);
    const A = await nodeOn(etcd, dev, 1);
    const B = await nodeOn(etcd, dev, 2);
    const a = await A.nexus(1, 'h1');
    const b = await B.nexus(2, 'h2');
    B.store.held = true; // B's watch lags behind
    expect((await basic(A.core, a, SA.REGISTER, 0, 0n, 0xa1n)).status).toBe(GOOD);
    expect((await basic(A.core, a, SA.RESERVE, TYPES.EA, 0xa1n, 0n)).status).toBe(GOOD);
    // B still believes nothing is reserved: its write would pass here (the check is local)...
    expect(B.lu.reservations.reservation).toBeUndefined();
    // ...but its REGISTER is computed on a stale state, loses the race, and runs again on the new one.
    expect((await basic(B.core, b, SA.REGISTER, 0, 0n, 0xb2n)).status).toBe(GOOD);
    expect(B.store.commits).toBe(2);
    expect(await readKeys(B.core, b)).toEqual({ generation: 2, keys: [0xa1n, 0xb2n] });
    expect(etcd.newest.state).toMatchObject({ generation: 2, reservation: { holder: 0, type: TYPES.EA } });
    // A RESERVE computed on a stale view conflicts once it sees the holder.
    B.store.held = true;
    expect((await basic(A.core, a, SA.RELEASE, TYPES.EA, 0xa1n, 0n)).status).toBe(GOOD);
    expect((await basic(A.core, a, SA.RESERVE, TYPES.WE, 0xa1n, 0n)).status).toBe(GOOD);
    expect((await basic(B.core, b, SA.RESERVE, TYPES.WE, 0xb2n, 0n)).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
  });

  it("the node's own change coming back through its watch establishes its unit attention once", async () => {
    const etcd = new MemEtcd();
    const A = await nodeOn(etcd, new MemDevice(64), 1);
    const [x, y] = [await A.nexus(1, 'h1'), await A.nexus(2, 'h2')];
    await basic(A.core, x, SA.REGISTER, 0, 0n, 0x1n);
    await basic(A.core, y, SA.REGISTER, 0, 0n, 0x2n);
    await basic(A.core, x, SA.RESERVE, TYPES.WE, 0x1n, 0n);
    // The memory store delivers the committed record before commit() resolves: the echo comes first.
    expect((await basic(A.core, y, SA.PREEMPT, TYPES.WE, 0x2n, 0x1n)).status).toBe(GOOD);
    expect(sense(await run(A.core, TUR, { nexus: x }))).toMatchObject({ key: 0x6, asc: 0x2a, ascq: 0x05 });
    expect((await run(A.core, TUR, { nexus: x })).status).toBe(GOOD);
    expect((await run(A.core, TUR, { nexus: y })).status).toBe(GOOD);
  });

  it('an unreachable store fails the command with ABORTED COMMAND and changes nothing', async () => {
    const etcd = new MemEtcd();
    const A = await nodeOn(etcd, new MemDevice(64), 1);
    const x = await A.nexus(1, 'h1');
    A.store.failNext = { land: false };
    const legacy = await run(A.core, [0x16, 0, 0, 0, 0, 0], { nexus: x });
    expect(sense(legacy)).toMatchObject({ key: 0xb, asc: 0x08, ascq: 0x01 });
    expect(A.lu.reservations.legacyReserved).toBe(false);
    await basic(A.core, x, SA.REGISTER, 0, 0n, 0x1n);
    A.store.failNext = { land: false };
    const r = await basic(A.core, x, SA.RESERVE, TYPES.EA, 0x1n, 0n);
    expect(r.status).toBe(CHECK_CONDITION);
    expect(sense(r)).toMatchObject({ key: 0xb, asc: 0x08, ascq: 0x01 });
    expect(A.lu.reservations.reservation).toBeUndefined();
    expect(A.lu.reservations.generation).toBe(1);
    expect(etcd.records).toHaveLength(1);
  });

  it('a change whose commit failed but landed later brings its effects, the issuer excepted', async () => {
    const etcd = new MemEtcd();
    const dev = new MemDevice(64);
    const A = await nodeOn(etcd, dev, 1);
    const B = await nodeOn(etcd, dev, 2);
    const [x, y] = [await A.nexus(1, 'h1'), await A.nexus(2, 'h2')];
    const z = await B.nexus(3, 'h3');
    await basic(A.core, x, SA.REGISTER, 0, 0n, 0x1n);
    await basic(A.core, y, SA.REGISTER, 0, 0n, 0x2n);
    await basic(B.core, z, SA.REGISTER, 0, 0n, 0x3n);
    await basic(A.core, x, SA.RESERVE, TYPES.WE_RO, 0x1n, 0n);
    A.store.failNext = { land: 'after' };
    // x releases a registrants-only reservation: RESERVATIONS RELEASED for the other registrants.
    const r = await basic(A.core, x, SA.RELEASE, TYPES.WE_RO, 0x1n, 0n);
    expect(sense(r)).toMatchObject({ key: 0xb });
    expect(A.lu.reservations.reservation).toBeDefined(); // not in force when the command failed
    await new Promise<void>((resolve) => A.store.subscribe(() => resolve())); // the late landing
    expect(A.lu.reservations.reservation).toBeUndefined();
    for (const [core, n] of [[A.core, y], [B.core, z]] as const) {
      expect(sense(await run(core, TUR, { nexus: n }))).toMatchObject({ key: 0x6, asc: 0x2a, ascq: 0x04 });
    }
    expect((await run(A.core, TUR, { nexus: x })).status).toBe(GOOD);
  });

  it('a change the watch brought back before its commit failed is in: the command succeeds', async () => {
    const etcd = new MemEtcd();
    const dev = new MemDevice(64);
    const A = await nodeOn(etcd, dev, 1);
    const B = await nodeOn(etcd, dev, 2);
    const [x, y] = [await A.nexus(1, 'h1'), await A.nexus(2, 'h2')];
    const z = await B.nexus(3, 'h3');
    for (const [core, n, k] of [[A.core, x, 1n], [A.core, y, 2n], [B.core, z, 3n]] as const) await basic(core, n, SA.REGISTER, 0, 0n, k);
    await basic(A.core, x, SA.RESERVE, TYPES.WE_RO, 0x1n, 0n);
    A.store.failNext = { land: 'before' };
    expect((await basic(A.core, x, SA.RELEASE, TYPES.WE_RO, 0x1n, 0n)).status).toBe(GOOD);
    expect(A.lu.reservations.reservation).toBeUndefined();
    // Established once, by the committer.
    expect(sense(await run(A.core, TUR, { nexus: y }))).toMatchObject({ key: 0x6, asc: 0x2a, ascq: 0x04 });
    expect((await run(A.core, TUR, { nexus: y })).status).toBe(GOOD);
    expect(sense(await run(B.core, TUR, { nexus: z }))).toMatchObject({ key: 0x6, asc: 0x2a, ascq: 0x04 });
  });

  it('SPC-2 RESERVE is held by port names across nodes; the loss of its nexus releases it everywhere', async () => {
    const etcd = new MemEtcd();
    const dev = new MemDevice(64);
    const A = await nodeOn(etcd, dev, 1);
    const B = await nodeOn(etcd, dev, 2);
    const x = await A.nexus(1, 'h1');
    const z = await B.nexus(3, 'h3');
    expect((await run(A.core, [0x16, 0, 0, 0, 0, 0], { nexus: x })).status).toBe(GOOD);
    expect(etcd.newest.state?.legacy).toEqual({ initiatorPort: x.initiatorPort, targetPort: x.targetPort });
    expect((await run(B.core, [0x16, 0, 0, 0, 0, 0], { nexus: z })).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
    const released = new Promise<void>((resolve) => B.store.subscribe(() => resolve()));
    A.core.removeNexus(x);
    await released;
    expect(etcd.newest.state?.legacy).toBeUndefined();
    expect(B.lu.reservations.legacyReserved).toBe(false);
    expect((await run(B.core, [0x16, 0, 0, 0, 0, 0], { nexus: z })).status).toBe(GOOD);
  });

  it('a LOGICAL UNIT RESET through another node releases the SPC-2 reservation everywhere', async () => {
    const etcd = new MemEtcd();
    const dev = new MemDevice(64);
    const A = await nodeOn(etcd, dev, 1);
    const B = await nodeOn(etcd, dev, 2);
    const x = await A.nexus(1, 'h1');
    expect((await run(A.core, [0x16, 0, 0, 0, 0, 0], { nexus: x })).status).toBe(GOOD);
    expect(B.lu.reservations.legacyReserved).toBe(true);
    const released = new Promise<void>((resolve) => A.store.subscribe(() => resolve()));
    B.lu.reservations.reset();
    await released;
    expect(A.lu.reservations.legacyReserved).toBe(false);
    expect(etcd.newest.state?.legacy).toBeUndefined();
  });
});
