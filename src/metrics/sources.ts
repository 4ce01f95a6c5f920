import type { BlockStats } from '../block/stats.js';
import type { MempoolStats } from '../block/mempool.js';
import type { ScsiStats } from '../scsi/stats.js';
import type { DeviceState, FaultCause } from '../block/health.js';
import type { AccessState } from '../scsi/alua.js';

export interface TargetSource {
  readonly iqn: string;
  readonly stats: ScsiStats;
  /** The initiator names of the target's ACL entries (lowercase): the only names a metric may carry. */
  readonly aclInitiators?: readonly string[];
}

export interface LunSource {
  readonly target: string;
  readonly lun: number;
  readonly stats: BlockStats;
}

/** One LU's storage health, failed ones included (they have no block queue). */
export interface LunHealthSource {
  readonly target: string;
  readonly lun: number;
  readonly state: DeviceState;
  /** Backstore errors by cause since the LU was opened. */
  readonly errors: Readonly<Record<FaultCause, number>>;
}

export interface PoolSource {
  readonly name: string;
  readonly stats: MempoolStats;
}

export interface BudgetSource {
  readonly limit: number;
  readonly inUse: number;
  readonly waiting: number;
}

export interface SessionSource {
  /** '' for discovery sessions. */
  readonly target: string;
  readonly discovery: boolean;
  /**
   * The initiator as a bounded label value: its name when it is an ACL entry of the target, else
   * OTHER_INITIATOR (absent = OTHER_INITIATOR). Never the raw name: anyone may pick one.
   */
  readonly initiator?: string;
}

/** One LU as this cluster node sees it. */
export interface ClusterLuSource {
  readonly target: string;
  readonly lun: number;
  /** This node holds the LU's owner key. */
  readonly owned: boolean;
  /** This node's ALUA access state for the LU. */
  readonly accessState: AccessState;
  /** Owner changes this node has seen. */
  readonly ownerChanges: number;
}

/** Cluster mode: the node's LUs, its lease state and fences. */
export interface ClusterSource {
  lus(): Iterable<ClusterLuSource>;
  leaseState(): string;
  fences(): number;
}

/** The `initiator` label of sessions whose initiator has no ACL entry; no iSCSI name can be it. */
export const OTHER_INITIATOR = 'other';

/**
 * What the metrics read, asked afresh at every scrape: targets, LUNs and
 * sessions come and go at runtime, so nothing here may be captured at start.
 * The data path never sees prom-client; it only keeps these plain counters.
 */
export interface MetricsSources {
  /** SCSI target cores, one per iSCSI target. */
  targets(): Iterable<TargetSource>;
  /** Block queues, one per LUN. */
  luns(): Iterable<LunSource>;
  /** Every LU's storage state and backstore errors; absent = none reported. */
  lunHealth?(): Iterable<LunHealthSource>;
  /** Page pools (the bounce pool today). */
  pools(): Iterable<PoolSource>;
  /** Logged-in sessions. */
  sessions(): Iterable<SessionSource>;
  /** TCP connections open on the portals, logins in progress included. */
  connections(): number;
  /** The target-wide bound on buffered write data (iscsi/byte-budget.ts). */
  writeBudget(): BudgetSource;
  /** The target-wide bound on Data-In being read or queued for the initiators. */
  readBudget(): BudgetSource;
  /** Connection admission: pre-login connections now, and those dropped for newcomers so far. */
  admission(): { preLogin: number; evicted: number };
  /** Failed logins so far, by reason (a fixed set, every reason listed); absent = none counted. */
  loginFailures?(): Iterable<readonly [reason: string, count: number]>;
  /** Cluster mode only: the scatter_cluster_* families are registered when this is present. */
  readonly cluster?: ClusterSource;
}
