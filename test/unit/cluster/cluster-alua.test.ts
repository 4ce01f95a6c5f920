/**
 * The states a cluster node reports (cluster-alua.ts): its own from its lease and phase, the others'
 * from ownership and liveness; the provider's cache, its change notices, and the lease deadline
 * checked against the clock on every lookup (a fence timer that has not run yet changes nothing).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterAluaProvider, groupsOf, type ClusterView } from '../../../src/cluster/cluster-alua.js';
import type { OwnerPhase } from '../../../src/cluster/ownership.js';
import { AccessState } from '../../../src/scsi/alua.js';
import type { LogicalUnit } from '../../../src/scsi/logical-unit.js';

const { ACTIVE_OPTIMIZED: AO, ACTIVE_NON_OPTIMIZED: ANO, STANDBY, UNAVAILABLE, TRANSITIONING } = AccessState;
const LU = { iqn: 'iqn.2026-12.io.scatter:t', lun: 0 };

function view(over: Partial<ClusterView> & { phase?: OwnerPhase; owner?: string; live?: Record<string, boolean> } = {}): ClusterView {
  const live = over.live ?? { a: true, b: true };
  return {
    nodeId: 'a',
    portGroup: 1,
    nonOwnerState: STANDBY,
    leaseValid: () => true,
    validUntil: () => Infinity,
    phaseOf: () => over.phase ?? 'follower',
    ownerOf: () => over.owner,
    nodes: () => [
      { nodeId: 'a', portGroup: 1, live: live.a ?? false },
      { nodeId: 'b', portGroup: 2, live: live.b ?? false },
    ],
    ...over,
  };
}

const states = (v: ClusterView) => groupsOf(v, LU).map((g) => [g.id, g.state, g.preferred]);

afterEach(() => vi.useRealTimers());

describe('groupsOf', () => {
  it('owner Active/Optimized and preferred, the other node in the non-owner state', () => {
    expect(states(view({ phase: 'owner', owner: 'a' }))).toEqual([
      [1, AO, true],
      [2, STANDBY, false],
    ]);
    expect(states(view({ owner: 'b', nonOwnerState: ANO }))).toEqual([
      [1, ANO, false],
      [2, AO, true],
    ]);
  });

  it('Transitioning while electing or draining; Unavailable without a valid lease, whatever the phase', () => {
    expect(states(view({ phase: 'acquiring', owner: 'a' }))[0]).toEqual([1, TRANSITIONING, true]);
    expect(states(view({ phase: 'draining', owner: 'a' }))[0]).toEqual([1, TRANSITIONING, true]);
    expect(states(view({ phase: 'owner', owner: 'a', leaseValid: () => false }))[0]).toEqual([1, UNAVAILABLE, true]);
  });

  it('a node whose lease is gone is Unavailable, and still listed; this node is listed even before membership has it', () => {
    expect(states(view({ owner: 'a', phase: 'owner', live: { a: true, b: false } }))[1]).toEqual([2, UNAVAILABLE, false]);
    const alone = view({ nodes: () => [{ nodeId: 'b', portGroup: 2, live: true }], owner: 'b' });
    expect(states(alone)).toEqual([
      [1, STANDBY, false],
      [2, AO, true],
    ]);
  });
});

describe('ClusterAluaProvider', () => {
  const lu = { lun: 0 } as LogicalUnit;

  it('caches per LUN, and tells listeners only the LUNs whose groups changed', () => {
    let phase: OwnerPhase = 'acquiring';
    const p = new ClusterAluaProvider(LU.iqn, view({ owner: 'a', phaseOf: () => phase }), 4);
    expect(p.groups(lu)[0]!.state).toBe(TRANSITIONING);
    const told: (readonly number[] | undefined)[] = [];
    p.onChange((luns) => told.push(luns));
    p.invalidate([0]);
    expect(told).toEqual([]); // nothing changed
    phase = 'owner';
    expect(p.groups(lu)[0]!.state).toBe(TRANSITIONING); // cached until invalidated
    p.invalidate([0]);
    expect(told).toEqual([[0]]);
    expect(p.groups(lu)[0]!.state).toBe(AO);
    expect(p.localGroup()).toEqual({ groupId: 1, relativeTargetPortId: 1 });
    expect(p.implicitTransitionSeconds).toBe(4);
  });

  it('past the lease deadline the next lookup answers Unavailable and raises the change, with no event from the lease', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const deadline = performance.now() + 1000;
    const v = view({ owner: 'a', phase: 'owner', validUntil: () => deadline, leaseValid: () => performance.now() < deadline });
    const p = new ClusterAluaProvider(LU.iqn, v, 4);
    const told: (readonly number[] | undefined)[] = [];
    p.onChange((luns) => told.push(luns));
    expect(p.groups(lu)[0]!.state).toBe(AO);
    vi.advanceTimersByTime(999);
    expect(p.groups(lu)[0]!.state).toBe(AO);
    vi.advanceTimersByTime(1);
    expect(p.groups(lu)[0]!.state).toBe(UNAVAILABLE);
    expect(told).toEqual([[0]]);
  });
});
