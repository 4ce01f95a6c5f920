/**
 * Cluster mode's metrics (docs/cluster.md): this node's ALUA state and ownership per LU, owner
 * changes, its lease state and fences. Registered only when the server runs in cluster mode, so
 * a single node's /metrics does not change. The metrics layer does not import src/cluster: it
 * reads the node through the structural ClusterNodeView (ClusterNode satisfies it).
 */
import type { Registry } from 'prom-client';
import { AccessState } from '../scsi/alua.js';
import { liveCounter, liveGauge, type Sample } from './live.js';
import type { ClusterLuSource, ClusterSource } from './sources.js';

/** What the metrics read of a cluster node (src/cluster/cluster-node.ts ClusterNode has it all). */
export interface ClusterNodeView {
  readonly config: { readonly nodeId: string };
  readonly leaseState: string;
  /** Lease fences seen so far. */
  readonly fences: number;
  luStates(): Iterable<{
    readonly target: string;
    readonly lun: number;
    readonly owner: string | undefined;
    readonly accessState: AccessState;
    readonly ownerChanges: number;
  }>;
}

/** ALUA access states as label values (SPC-4 names, snake case). */
export const ALUA_STATE_LABELS = {
  [AccessState.ACTIVE_OPTIMIZED]: 'active_optimized',
  [AccessState.ACTIVE_NON_OPTIMIZED]: 'active_non_optimized',
  [AccessState.STANDBY]: 'standby',
  [AccessState.UNAVAILABLE]: 'unavailable',
  [AccessState.TRANSITIONING]: 'transitioning',
} as const satisfies Record<AccessState, string>;

/** The node's lease states (src/cluster/node-lease.ts NodeLeaseState), every one a series. */
export const LEASE_STATES = ['new', 'live', 'fenced', 'lost', 'closed'] as const;

/** The metrics' source over a node, read afresh at each scrape. */
export function clusterSource(node: ClusterNodeView): ClusterSource {
  return {
    *lus(): Iterable<ClusterLuSource> {
      const self = node.config.nodeId;
      for (const l of node.luStates()) yield { target: l.target, lun: l.lun, owned: l.owner === self, accessState: l.accessState, ownerChanges: l.ownerChanges };
    },
    leaseState: () => node.leaseState,
    fences: () => node.fences,
  };
}

export function registerClusterMetrics(registry: Registry, src: ClusterSource): void {
  liveGauge(registry, {
    name: 'scatter_cluster_alua_state',
    help: "This node's ALUA access state per LU: 1 for the current state (active_optimized, active_non_optimized, standby, unavailable, transitioning), 0 for the others.",
    labelNames: ['target', 'lun', 'state'],
    read: () =>
      [...src.lus()].flatMap((l) =>
        Object.entries(ALUA_STATE_LABELS).map(([code, state]): Sample => [{ target: l.target, lun: String(l.lun), state }, Number(code) === l.accessState ? 1 : 0]),
      ),
  });
  liveGauge(registry, {
    name: 'scatter_cluster_lu_owner',
    help: 'Whether this node owns the LU (holds its owner key in etcd): 1 or 0.',
    labelNames: ['target', 'lun'],
    read: () => [...src.lus()].map((l): Sample => [{ target: l.target, lun: String(l.lun) }, l.owned ? 1 : 0]),
  });
  liveCounter(registry, {
    name: 'scatter_cluster_owner_changes_total',
    help: "Changes of the LU's owner this node has seen since it started (drains, failovers, elections).",
    labelNames: ['target', 'lun'],
    read: () => [...src.lus()].map((l): Sample => [{ target: l.target, lun: String(l.lun) }, l.ownerChanges]),
  });
  liveGauge(registry, {
    name: 'scatter_cluster_lease_state',
    help: "This node's etcd lease: 1 for the current state (new, live, fenced, lost, closed), 0 for the others. Only live serves the LUs it owns.",
    labelNames: ['state'],
    read: () => {
      const now = src.leaseState();
      const states: string[] = [...LEASE_STATES];
      if (!states.includes(now)) states.push(now);
      return states.map((state): Sample => [{ state }, state === now ? 1 : 0]);
    },
  });
  liveCounter(registry, {
    name: 'scatter_cluster_fences_total',
    help: 'Times this node fenced itself (its lease not renewed in time: it stopped serving the LUs it owns).',
    labelNames: [],
    read: () => [[{}, src.fences()]],
  });
}
