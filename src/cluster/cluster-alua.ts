/**
 * The ALUA provider of a cluster node (scsi/alua.ts): for each LU, every known node's target port
 * group in the state this node sees it in. This node's own state is what gates commands, so it
 * follows this node's facts only: its lease (fenced or lost: Unavailable) and its phase for the
 * LU (owner: Active/Optimized; electing or draining: Transitioning; otherwise the configured
 * non-owner state). Other nodes are Active/Optimized when they own the LU, Unavailable when
 * their lease is gone, and the non-owner state otherwise.
 */
import { AccessState, AccessStatus, type AluaProvider, type LocalTargetPort, type TargetPortGroup } from '../scsi/alua.js';
import type { LogicalUnit } from '../scsi/logical-unit.js';
import type { LuName } from './keys.js';
import type { OwnerPhase } from './ownership.js';

/** What the provider reads; ClusterNode supplies it from Membership, Ownership and NodeLease. */
export interface ClusterView {
  readonly nodeId: string;
  readonly portGroup: number;
  readonly nonOwnerState: AccessState;
  /** False while the node's lease is fenced or lost, or past its fence deadline. */
  leaseValid(): boolean;
  /** Clock time (performance.now()) after which leaseValid() turns false without any event. */
  validUntil(): number;
  phaseOf(lu: LuName): OwnerPhase;
  ownerOf(lu: LuName): string | undefined;
  /** Every node seen (this one included), ascending by port group, with whether its lease is live. */
  nodes(): readonly { readonly nodeId: string; readonly portGroup: number; readonly live: boolean }[];
}

export const SUPPORTED_STATES: readonly AccessState[] = Object.freeze([
  AccessState.ACTIVE_OPTIMIZED,
  AccessState.ACTIVE_NON_OPTIMIZED,
  AccessState.STANDBY,
  AccessState.UNAVAILABLE,
  AccessState.TRANSITIONING,
]);

function localState(view: ClusterView, lu: LuName): AccessState {
  if (!view.leaseValid()) return AccessState.UNAVAILABLE;
  switch (view.phaseOf(lu)) {
    case 'owner':
      return AccessState.ACTIVE_OPTIMIZED;
    case 'acquiring':
    case 'draining':
      return AccessState.TRANSITIONING;
    case 'follower':
      return view.nonOwnerState;
  }
}

/** The groups of one LU as this node reports them. */
export function groupsOf(view: ClusterView, lu: LuName): TargetPortGroup[] {
  const owner = view.ownerOf(lu);
  const groups: TargetPortGroup[] = [];
  let sawSelf = false;
  for (const n of view.nodes()) {
    const self = n.nodeId === view.nodeId;
    sawSelf ||= self;
    const state = self ? localState(view, lu) : !n.live ? AccessState.UNAVAILABLE : owner === n.nodeId ? AccessState.ACTIVE_OPTIMIZED : view.nonOwnerState;
    groups.push({ id: n.portGroup, state, preferred: owner === n.nodeId, status: AccessStatus.IMPLICIT, relativeTargetPortIds: [n.portGroup] });
  }
  if (!sawSelf) {
    const state = localState(view, lu);
    groups.push({ id: view.portGroup, state, preferred: owner === view.nodeId, status: AccessStatus.IMPLICIT, relativeTargetPortIds: [view.portGroup] });
    groups.sort((a, b) => a.id - b.id);
  }
  return groups;
}

/**
 * One target's provider. The gate asks for the groups on every command: they are computed once
 * per change (invalidate()) and cached per LUN.
 */
export class ClusterAluaProvider implements AluaProvider {
  readonly supportedStates = SUPPORTED_STATES;
  private readonly cache = new Map<number, readonly TargetPortGroup[]>();
  private readonly listeners = new Set<(luns: readonly number[] | undefined) => void>();
  private readonly local: LocalTargetPort;
  /** The cache was recomputed after the deadline passed (until the next invalidate with a valid lease). */
  private expired = false;

  constructor(
    readonly iqn: string,
    private readonly view: ClusterView,
    /** IMPLICIT TRANSITION TIME: how long a Transitioning state may last (TTL + grace, rounded up). */
    readonly implicitTransitionSeconds: number,
  ) {
    this.local = Object.freeze({ groupId: view.portGroup, relativeTargetPortId: view.portGroup });
  }

  groups(lu: LogicalUnit): readonly TargetPortGroup[] {
    // The fence timer may not have run yet (the event loop was stopped or busy): the clock decides,
    // so that no command is served as owner past the lease's deadline.
    if (performance.now() >= this.view.validUntil() && !this.expired) {
      this.expired = true;
      this.invalidate();
    }
    let g = this.cache.get(lu.lun);
    if (!g) {
      g = Object.freeze(groupsOf(this.view, { iqn: this.iqn, lun: lu.lun }));
      this.cache.set(lu.lun, g);
    }
    return g;
  }

  localGroup(): LocalTargetPort {
    return this.local;
  }

  onChange(listener: (luns: readonly number[] | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * States may have changed for `luns` (undefined: all): recompute, and tell the core about the
   * LUNs whose groups really changed (it raises ASYMMETRIC ACCESS STATE CHANGED for them).
   */
  invalidate(luns?: readonly number[]): void {
    if (performance.now() < this.view.validUntil()) this.expired = false;
    const candidates = luns ?? [...this.cache.keys()];
    const changed: number[] = [];
    for (const lun of candidates) {
      const before = this.cache.get(lun);
      const after = Object.freeze(groupsOf(this.view, { iqn: this.iqn, lun }));
      this.cache.set(lun, after);
      if (before === undefined || !sameGroups(before, after)) changed.push(lun);
    }
    if (changed.length > 0) for (const l of this.listeners) l(changed);
  }
}

function sameGroups(a: readonly TargetPortGroup[], b: readonly TargetPortGroup[]): boolean {
  return a.length === b.length && a.every((g, i) => g.id === b[i]!.id && g.state === b[i]!.state && g.preferred === b[i]!.preferred);
}
