/**
 * One node of a cluster (docs/cluster.md): its etcd client, its lease (granted again when lost),
 * the membership and ownership it follows, and an ALUA provider per target built from them.
 * The server starts it before the iSCSI portals open, installs the providers on the targets'
 * SCSI cores and tells it which LUs it serves (track) after every config change.
 */
import { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../config/schema.js';
import { defaultMarginMs } from '../config/schema/cluster.js';
import { AccessState } from '../scsi/alua.js';
import { ClusterAluaProvider, groupsOf, type ClusterView } from './cluster-alua.js';
import { EtcdUnavailableError, withTimeout } from './etcd-timeout.js';
import { ClusterKeys, luSegment, type LuName } from './keys.js';
import { Membership, type NodeInfo } from './membership.js';
import { NodeLease, type NodeLeaseState } from './node-lease.js';
import { Ownership, type OwnerPhase } from './ownership.js';
import { LuEvents } from './lu-events.js';
import type { LuSharing, SharedLuEvent } from '../scsi/lu-sharing.js';
import { LogEvent } from '../shared/log-events.js';

export interface ClusterNodeOptions {
  readonly config: ClusterConfig;
  readonly log: Logger;
}

/** What the node publishes about itself in its node key, known once its listeners are bound. */
export interface NodeAddresses {
  /** Its iSCSI portals, `host:port`. */
  readonly portals: readonly string[];
  /** Its admin API, `http://host:port`. */
  readonly admin?: string;
}

export interface LuClusterState {
  readonly target: string;
  readonly lun: number;
  readonly owner: string | undefined;
  readonly phase: OwnerPhase;
  /** This node's access state for the LU, as the SCSI gate applies it (SPC-4 code). */
  readonly accessState: AccessState;
  readonly ownerChanges: number;
}

export interface ClusterStatus {
  readonly cluster: string;
  readonly nodeId: string;
  readonly portGroup: number;
  readonly lease: { readonly state: NodeLeaseState; readonly ttlSeconds: number; readonly id: string | undefined };
  readonly etcd: { readonly endpoints: readonly string[]; readonly reachable: boolean; readonly version?: string; readonly error?: string };
  readonly nodes: readonly (NodeInfo & { readonly live: boolean })[];
  readonly lus: readonly LuClusterState[];
}

export const ACCESS_STATE_NAMES = {
  [AccessState.ACTIVE_OPTIMIZED]: 'active/optimized',
  [AccessState.ACTIVE_NON_OPTIMIZED]: 'active/non-optimized',
  [AccessState.STANDBY]: 'standby',
  [AccessState.UNAVAILABLE]: 'unavailable',
  [AccessState.TRANSITIONING]: 'transitioning',
} as const satisfies Record<AccessState, string>;

export class ClusterNode {
  readonly keys: ClusterKeys;
  readonly client: Etcd3;
  readonly graceMs: number;
  private lease: NodeLease;
  private readonly membership: Membership;
  private readonly ownership: Ownership;
  private readonly events: LuEvents;
  private applyEvent: ((lu: LuName, event: SharedLuEvent) => Promise<void>) | undefined;
  private readonly providers = new Map<string, ClusterAluaProvider>();
  private readonly view: ClusterView;
  private closed = false;
  private relet: Promise<void> | undefined;
  /** Lease fences / losses seen (metrics). */
  fences = 0;

  private addresses: NodeAddresses = { portals: [] };

  /**
   * The etcd client and the (not yet joined) node: its providers answer Unavailable until join()
   * has a lease and has read the owners, so a login that comes early sees no active path.
   */
  constructor(private readonly opts: ClusterNodeOptions) {
    const c = opts.config;
    this.keys = new ClusterKeys(c.name);
    this.client = new Etcd3({ hosts: [...c.etcd.endpoints], dialTimeout: c.etcd.callTimeoutMs });
    this.graceMs = c.graceMs ?? defaultMarginMs(c.leaseTtlSeconds);
    this.lease = this.newLease();
    this.membership = new Membership({ client: this.client, keys: this.keys, timeoutMs: c.etcd.callTimeoutMs, log: opts.log });
    this.ownership = new Ownership({
      client: this.client,
      keys: this.keys,
      nodeId: c.nodeId,
      graceMs: this.graceMs,
      timeoutMs: c.etcd.callTimeoutMs,
      log: opts.log,
      leaseId: () => (this.lease.state === 'live' ? this.lease.id : undefined),
      mayOwn: () => this.lease.state === 'live',
    });
    this.events = new LuEvents({
      client: this.client,
      keys: this.keys,
      nodeId: c.nodeId,
      timeoutMs: c.etcd.callTimeoutMs,
      log: opts.log,
      liveOthers: () => this.membership.known().filter((n) => n.nodeId !== c.nodeId && this.membership.isLive(n.nodeId)).map((n) => n.nodeId),
      apply: async (lu, event) => {
        if (!this.applyEvent) throw new Error('no handler for LU events yet');
        await this.applyEvent(lu, event);
      },
    });
    const nonOwnerState = c.nonOwnerState === 'standby' ? AccessState.STANDBY : AccessState.ACTIVE_NON_OPTIMIZED;
    this.view = {
      nodeId: c.nodeId,
      portGroup: c.portGroup,
      nonOwnerState,
      leaseValid: () => this.lease.state === 'live' && performance.now() < this.lease.fenceDeadline,
      validUntil: () => this.lease.fenceDeadline,
      phaseOf: (lu) => this.ownership.phaseOf(lu),
      ownerOf: (lu) => this.ownership.ownerOf(lu),
      nodes: () => this.membership.known().map((n) => ({ nodeId: n.nodeId, portGroup: n.portGroup, live: this.membership.isLive(n.nodeId) })),
    };
    this.membership.on('change', () => {
      this.invalidateAll();
      void this.ownership.electAll();
    });
    this.ownership.on('change', (lus) => {
      for (const lu of lus) this.providers.get(lu.iqn.toLowerCase())?.invalidate([lu.lun]);
    });
  }

  /** Join the cluster: lease and node key, then membership and owners. Rejects when etcd cannot be reached (close() then). */
  async join(addresses: NodeAddresses): Promise<void> {
    const { config, log } = this.opts;
    this.addresses = addresses;
    await withTimeout(this.lease.start(), config.etcd.callTimeoutMs, 'etcd: granting this node its lease');
    await this.membership.start();
    await this.ownership.start();
    await this.events.start();
    this.invalidateAll();
    log.info({ event: LogEvent.clusterJoined, cluster: config.name, node: config.nodeId, portGroup: config.portGroup, lease: this.lease.id }, 'cluster: joined');
  }

  get config(): ClusterConfig {
    return this.opts.config;
  }

  private newLease(): NodeLease {
    const c = this.opts.config;
    const lease = new NodeLease({
      client: this.client,
      prefix: this.keys.prefix,
      nodeId: c.nodeId,
      ttlSeconds: c.leaseTtlSeconds,
      describe: () => ({ portGroup: c.portGroup, portals: this.addresses.portals, ...(this.addresses.admin !== undefined && { admin: this.addresses.admin }) }),
    });
    const log = this.opts.log;
    lease.on('fenced', (e) => {
      this.fences++;
      log.warn({ event: LogEvent.clusterFenced, lastConfirmedMsAgo: Math.round(e.at - e.lastConfirmedAt) }, 'cluster: lease not renewed in time; this node stops serving the LUs it owns');
      this.invalidateAll();
    });
    lease.on('renewed', () => {
      log.info({ event: LogEvent.clusterRenewed }, 'cluster: lease renewed; serving again');
      this.invalidateAll();
    });
    lease.on('lost', (err) => {
      log.error({ event: LogEvent.clusterLeaseLost, err }, 'cluster: lease lost; its LUs go to other nodes; rejoining');
      this.ownership.leaseLost();
      this.invalidateAll();
      this.relet ??= this.rejoin().finally(() => (this.relet = undefined));
    });
    return lease;
  }

  /** Grant a new lease until it works (etcd may still be away), then stand for election again. */
  private async rejoin(): Promise<void> {
    let wait = 250;
    while (!this.closed) {
      await this.lease.close().catch(() => undefined);
      this.lease = this.newLease();
      try {
        await withTimeout(this.lease.start(), this.opts.config.etcd.callTimeoutMs, 'etcd: granting this node a new lease');
        this.opts.log.info({ event: LogEvent.clusterRejoined, lease: this.lease.id }, 'cluster: rejoined with a new lease');
        this.invalidateAll();
        await this.ownership.electAll();
        return;
      } catch (err) {
        this.opts.log.warn({ err }, 'cluster: could not rejoin yet');
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, 5000);
      }
    }
  }

  private invalidateAll(): void {
    for (const p of this.providers.values()) p.invalidate();
  }

  /** The ALUA provider for target `iqn` (one per target, kept). */
  providerFor(iqn: string): ClusterAluaProvider {
    const key = iqn.toLowerCase();
    let p = this.providers.get(key);
    if (!p) {
      const c = this.opts.config;
      const seconds = Math.min(255, Math.ceil((c.leaseTtlSeconds * 1000 + this.graceMs) / 1000) + 1);
      p = new ClusterAluaProvider(iqn, this.view, seconds);
      this.providers.set(key, p);
    }
    return p;
  }

  /** Where another node's LU reset or mode change is applied here (the server: the target's SCSI core). */
  onLuEvent(apply: (lu: LuName, event: SharedLuEvent) => Promise<void>): void {
    this.applyEvent = apply;
  }

  /** What `lu`'s LogicalUnit publishes its resets and mode changes through. */
  sharingFor(lu: LuName): LuSharing {
    return { publish: (event) => this.events.publish(lu, event) };
  }

  /** The LUs this node serves now (after start and after every config change). */
  track(lus: readonly LuName[]): Promise<void> {
    return this.ownership.track(lus);
  }

  /** Hand `lu` to node `to`; `quiesce` waits for its commands under way and flushes it. */
  drain(lu: LuName, to: string, quiesce: () => Promise<void>): Promise<void> {
    return this.ownership.drain(lu, to, quiesce);
  }

  /** This node's access state for `lu` (what its SCSI gate applies). */
  accessStateOf(lu: LuName): AccessState {
    const self = groupsOf(this.view, lu).find((g) => g.id === this.opts.config.portGroup);
    return self?.state ?? AccessState.UNAVAILABLE;
  }

  get leaseState(): NodeLeaseState {
    return this.lease.state;
  }

  luStates(): LuClusterState[] {
    return this.ownership.trackedLus().map((lu) => ({
      target: lu.iqn,
      lun: lu.lun,
      owner: this.ownership.ownerOf(lu),
      phase: this.ownership.phaseOf(lu),
      accessState: this.accessStateOf(lu),
      ownerChanges: this.ownership.movesOf(lu),
    }));
  }

  /** Rejects with an EtcdUnavailableError naming the endpoints when etcd does not answer a status request in time. */
  async checkEtcd(): Promise<void> {
    const c = this.opts.config;
    await withTimeout(this.client.maintenance.status(), c.etcd.callTimeoutMs, `etcd at ${c.etcd.endpoints.join(', ')}: a status request at start-up`);
  }

  /** Everything `scatter cluster status` shows; etcd is asked for its status (bounded by the call timeout). */
  async status(): Promise<ClusterStatus> {
    const c = this.opts.config;
    let etcd: ClusterStatus['etcd'];
    try {
      const s = await withTimeout(this.client.maintenance.status(), c.etcd.callTimeoutMs, 'etcd: a status request');
      etcd = { endpoints: c.etcd.endpoints, reachable: true, version: s.version };
    } catch (err) {
      etcd = { endpoints: c.etcd.endpoints, reachable: false, error: err instanceof EtcdUnavailableError ? err.message : String(err) };
    }
    return {
      cluster: c.name,
      nodeId: c.nodeId,
      portGroup: c.portGroup,
      lease: { state: this.lease.state, ttlSeconds: c.leaseTtlSeconds, id: this.lease.id },
      etcd,
      nodes: this.membership.known().map((n) => ({ ...n, live: this.membership.isLive(n.nodeId) })),
      lus: this.luStates().sort((a, b) => luSegment({ iqn: a.target, lun: a.lun }).localeCompare(luSegment({ iqn: b.target, lun: b.lun }))),
    };
  }

  /** Leave: stop following, revoke the lease (owned LUs go to other nodes at once), close the client. */
  async close(): Promise<void> {
    this.closed = true;
    await this.events.close().catch(() => undefined);
    await this.ownership.close().catch(() => undefined);
    await this.membership.close().catch(() => undefined);
    await withTimeout(this.lease.close(), this.opts.config.etcd.callTimeoutMs, 'etcd: revoking the lease').catch((err: unknown) =>
      this.opts.log.warn({ err }, 'cluster: lease not revoked; it expires on its own'),
    );
    this.client.close();
  }
}
