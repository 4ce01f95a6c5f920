/**
 * This node's liveness in etcd: a lease with a TTL and the key `<prefix>/nodes/<nodeId>` under it.
 *
 * The node times its own lease (docs/cluster.md, "Fencing before failover", rule 1): etcd3's `lost`
 * comes only about 2 × TTL after the last keepalive, while etcd may expire the lease, and another
 * node take over, after 1 × TTL. So `fenced` fires once `now − lastConfirmedAt >= TTL − margin`,
 * where lastConfirmedAt is when the last *successful* keepalive was *sent* (etcd restarts the TTL
 * when it receives it, which is later: counting from the send stays on the safe side).
 */
import { EventEmitter } from 'node:events';

/** The part of etcd3's Lease this class uses (a fake one in unit tests). */
export interface LeaseLike {
  grant(): Promise<string>;
  put(key: string): { value(value: string): { exec(): Promise<unknown> } };
  revoke(): Promise<void>;
  on(event: 'keepaliveFired' | 'keepaliveEstablished' | 'keepaliveSucceeded', handler: () => void): unknown;
  on(event: 'lost', handler: (err: Error) => void): unknown;
}

export interface LeaseClient {
  lease(ttlSeconds: number, options: { autoKeepAlive: boolean }): LeaseLike;
}

/** Monotonic time and timers; injectable so the deadline logic runs under fake timers. */
export interface LeaseClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: LeaseClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface NodeLeaseOptions {
  /** An etcd3 `Etcd3` client (or a fake with the same `lease()`). */
  client: LeaseClient;
  /** Key prefix of this cluster, e.g. `/scatter/prod`; no trailing slash. */
  prefix: string;
  nodeId: string;
  ttlSeconds: number;
  /** How long before the TTL runs out the node fences itself. Default max(500 ms, TTL / 4). */
  marginMs?: number;
  clock?: LeaseClock;
  /** More of the node's description to put in its key (membership.ts reads it), asked for at start(). */
  describe?: () => Readonly<Record<string, unknown>>;
}

export interface FencedEvent {
  /** Clock time of the fence and of the last confirmed keepalive (its send time). */
  at: number;
  lastConfirmedAt: number;
}

export interface NodeLeaseEvents {
  /** Stop acting as owner now: etcd may expire the lease soon. */
  fenced: [FencedEvent];
  /** A keepalive succeeded after a fence: the lease is still valid, the node may act again. */
  renewed: [];
  /** etcd3 says the lease is gone (expired or revoked): re-grant to rejoin. Preceded by `fenced`. */
  lost: [Error];
}

export type NodeLeaseState = 'new' | 'live' | 'fenced' | 'lost' | 'closed';

export class NodeLease extends EventEmitter<NodeLeaseEvents> {
  readonly key: string;
  readonly ttlMs: number;
  readonly marginMs: number;
  private readonly client: LeaseClient;
  private readonly clock: LeaseClock;
  private lease: LeaseLike | undefined;
  private leaseId: string | undefined;
  private stateNow: NodeLeaseState = 'new';
  private confirmedAt = 0;
  /** Send times of keepalives not answered yet, oldest first (one stream answers in order). */
  private pending: number[] = [];
  private timer: unknown;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: NodeLeaseOptions) {
    super();
    const { ttlSeconds, nodeId, prefix } = opts;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`NodeLease: ttlSeconds must be an integer >= 1 (etcd's unit), got ${ttlSeconds}`);
    }
    if (!nodeId || nodeId.includes('/')) throw new RangeError(`NodeLease: nodeId must be non-empty without '/', got '${nodeId}'`);
    if (prefix.endsWith('/')) throw new RangeError(`NodeLease: prefix must not end with '/', got '${prefix}'`);
    this.ttlMs = ttlSeconds * 1000;
    this.marginMs = opts.marginMs ?? Math.max(500, this.ttlMs / 4);
    // etcd3 sends a keepalive every TTL/3: a deadline before that would fence between healthy keepalives.
    if (!(this.marginMs >= 0 && this.ttlMs - this.marginMs > this.ttlMs / 3)) {
      throw new RangeError(
        `NodeLease: marginMs must be >= 0 and leave more than TTL/3 (${Math.round(this.ttlMs / 3)} ms) before the fence, got ${this.marginMs} for a ${ttlSeconds} s TTL`,
      );
    }
    this.key = `${prefix}/nodes/${nodeId}`;
    this.client = opts.client;
    this.clock = opts.clock ?? systemClock;
  }

  get state(): NodeLeaseState {
    return this.stateNow;
  }

  /**
   * Clock time at which this node must stop acting as owner: the `fenced` timer fires then, but a
   * timer can run late (an event loop that was stopped, or busy): whoever must not act past the
   * deadline compares the clock with it. -Infinity unless the lease is live.
   */
  get fenceDeadline(): number {
    return this.stateNow === 'live' ? this.confirmedAt + this.ttlMs - this.marginMs : -Infinity;
  }

  /** Send time of the last keepalive (or the grant) that etcd confirmed. */
  get lastConfirmedAt(): number {
    return this.confirmedAt;
  }

  /** The lease id as etcd3 gives it (decimal); etcdctl wants BigInt(id).toString(16). */
  get id(): string | undefined {
    return this.leaseId;
  }

  /**
   * Grant the lease and put the node key under it. Rejects if etcd refuses or is unreachable (a failed
   * grant also emits fenced and lost); call close() afterwards either way, to stop the keepalives.
   */
  async start(): Promise<void> {
    if (this.stateNow !== 'new') throw new Error(`NodeLease.start: already ${this.stateNow}`);
    this.stateNow = 'live';
    // The grant's send time is when the TTL starts at the latest.
    this.confirmedAt = this.clock.now();
    this.arm();
    const lease = this.client.lease(this.opts.ttlSeconds, { autoKeepAlive: true });
    this.lease = lease;
    lease.on('keepaliveEstablished', () => {
      this.pending = []; // answers to a broken stream's keepalives never come
    });
    lease.on('keepaliveFired', () => this.pending.push(this.clock.now()));
    lease.on('keepaliveSucceeded', () => this.onConfirmed());
    lease.on('lost', (err) => this.onLost(err));
    this.leaseId = await lease.grant();
    await lease
      .put(this.key)
      .value(JSON.stringify({ ...this.opts.describe?.(), nodeId: this.opts.nodeId, startedAt: new Date().toISOString() }))
      .exec();
  }

  /** Revoke the lease (the key disappears at once) and stop the timers. Safe to call again. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasLost = this.stateNow === 'lost';
    this.stateNow = 'closed';
    this.disarm();
    if (this.lease && !wasLost) await this.lease.revoke();
  }

  private onConfirmed(): void {
    const sentAt = this.pending.shift();
    // An answer we cannot pair with a send time proves nothing about when the TTL restarted.
    if (sentAt === undefined || (this.stateNow !== 'live' && this.stateNow !== 'fenced')) return;
    this.confirmedAt = Math.max(this.confirmedAt, sentAt);
    if (this.clock.now() - this.confirmedAt >= this.ttlMs - this.marginMs) return; // too late to help
    if (this.stateNow === 'fenced') {
      this.stateNow = 'live';
      this.arm();
      this.emit('renewed');
    } else {
      this.arm();
    }
  }

  private onLost(err: Error): void {
    if (this.stateNow === 'closed' || this.stateNow === 'lost') return;
    if (this.stateNow === 'live') this.fence();
    this.stateNow = 'lost';
    this.disarm();
    this.emit('lost', err);
  }

  private arm(): void {
    this.disarm();
    const wait = this.confirmedAt + this.ttlMs - this.marginMs - this.clock.now();
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.stateNow !== 'live') return;
      // Node's timers count whole milliseconds and may fire a fraction early: check, else wait the rest.
      if (this.clock.now() - this.confirmedAt < this.ttlMs - this.marginMs) this.arm();
      else this.fence();
    }, Math.max(0, Math.ceil(wait)));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fence(): void {
    this.stateNow = 'fenced';
    this.disarm();
    this.emit('fenced', { at: this.clock.now(), lastConfirmedAt: this.confirmedAt });
  }
}
