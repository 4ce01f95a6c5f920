/**
 * Persistent reservations of one LU in etcd (docs/cluster.md, "Persistent reservations across
 * nodes"): the whole state (registrations, the reservation and its type, PRgeneration, APTPL and the
 * SPC-2 RESERVE holder) at `keys.reservations(lu)`, not under any lease, so it outlives every node.
 *
 * - Every change is a transaction comparing the key's mod revision with the one the node's state was
 *   computed from (scsi/pr/state.ts re-reads and recomputes the whole PR OUT action on a conflict).
 * - Each value carries the change's effects (unit attentions by port names, PREEMPT AND ABORT's
 *   victims) with the state they belong to, so one watch brings every node both, in revision order,
 *   and no separate event key has to be written and collected.
 * - `sync()` (PERSISTENT RESERVE IN, and after a lost compare-and-swap) reads the key linearizably
 *   and waits until the watch has delivered that revision: a node never answers from a copy older
 *   than what another node already completed.
 * - Every call is bounded by `timeoutMs`; past it the SCSI command fails (ABORTED COMMAND,
 *   scsi/pr/store-failure.ts). gRPC's own deadline is set far beyond it (see config-store.ts: an
 *   expired deadline trips etcd3's circuit breaker for every call of the client).
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { z } from 'zod';
import { PrSnapshotSchema } from '../scsi/pr/file-store.js';
import { PrStoreUnavailableError, type PrEffects, type PrRecord, type SharedPrState, type SharedReservationStore } from '../scsi/pr/types.js';
import { EtcdUnavailableError, abandonDeadline, withTimeout } from './etcd-timeout.js';
import type { ClusterKeys, LuName } from './keys.js';

export interface EtcdReservationStoreOptions {
  client: Etcd3;
  keys: ClusterKeys;
  lu: LuName;
  nodeId: string;
  log?: Logger;
  /** Bound on every etcd call a SCSI command waits for. Default 2000 ms. */
  timeoutMs?: number;
}

export const DEFAULT_RESERVATION_TIMEOUT_MS = 2000;

const PortsSchema = z.object({ initiatorPort: z.string().min(1), targetPort: z.string().min(1) });

const ValueSchema = z.object({
  version: z.literal(1),
  /** The node that wrote it (for people reading etcd). */
  node: z.string(),
  state: PrSnapshotSchema.extend({ aptpl: z.boolean(), legacy: PortsSchema.optional() }),
  effects: z
    .object({
      id: z.string(),
      attentions: z.array(PortsSchema.extend({ asc: z.number().int().min(0).max(255), ascq: z.number().int().min(0).max(255) })),
      aborts: z.array(PortsSchema),
    })
    .optional(),
});

export type StoredReservations = z.infer<typeof ValueSchema>;

/** The etcd value of a state and the change that produced it. */
export function encodeReservations(nodeId: string, state: SharedPrState, effects?: PrEffects): string {
  const value = { version: 1, node: nodeId, state, ...(effects ? { effects } : {}) } satisfies { version: 1; node: string; state: SharedPrState; effects?: PrEffects };
  return JSON.stringify(value);
}

/** Parses a stored value; throws naming `source` when it is not one. */
export function decodeReservations(text: string, source: string): { state: SharedPrState; effects?: PrEffects } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = ValueSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${source}: not a reservation state (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`);
  }
  const { state, effects } = parsed.data;
  if (state.reservation && state.reservation.holder >= state.registrations.length) {
    throw new Error(`${source}: not a reservation state (reservation.holder: no such registration)`);
  }
  return { state: state as SharedPrState, ...(effects ? { effects } : {}) };
}

interface Waiter {
  readonly done: (record: PrRecord) => boolean;
  readonly resolve: () => void;
}

export class EtcdReservationStore implements SharedReservationStore {
  readonly kind = 'shared';
  readonly key: string;
  readonly timeoutMs: number;
  private readonly client: Etcd3;
  private readonly nodeId: string;
  private readonly log: Logger | undefined;
  private record: PrRecord;
  private readonly listeners = new Set<(record: PrRecord) => void>();
  private readonly waiters = new Set<Waiter>();
  private watcher: Watcher | undefined;
  private closed = false;

  /** Use createEtcdReservationStore: the first record must be read before the LU is built. */
  private constructor(opts: EtcdReservationStoreOptions, key: string, first: PrRecord) {
    this.client = opts.client;
    this.key = key;
    this.nodeId = opts.nodeId;
    this.log = opts.log?.child({ component: 'cluster-reservations', key });
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_RESERVATION_TIMEOUT_MS;
    this.record = first;
  }

  /**
   * Reads the LU's reservations (none yet is an empty state) and starts watching from just after
   * that read, so no change falls between. Rejects when etcd does not answer within the timeout
   * or holds something that is not a reservation state.
   */
  static async create(opts: EtcdReservationStoreOptions): Promise<EtcdReservationStore> {
    const key = opts.keys.reservations(opts.lu);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RESERVATION_TIMEOUT_MS;
    const res = await bounded(opts.client.get(key).options({ deadline: abandonDeadline(timeoutMs) }).exec(), timeoutMs, `reading ${key}`);
    const kv = res.kvs[0];
    const first: PrRecord = kv
      ? { revision: BigInt(kv.mod_revision), base: BigInt(kv.mod_revision), ...decodeReservations(kv.value.toString('utf8'), `etcd key ${key}`) }
      : { revision: 0n, base: 0n, state: undefined };
    const store = new EtcdReservationStore(opts, key, first);
    const created = opts.client
      .watch()
      .key(key)
      .startRevision(String(BigInt(res.header.revision) + 1n))
      .create();
    store.watcher = await bounded(created, timeoutMs, `starting a watch on ${key}`).catch((err: unknown) => {
      void created.then((w) => w.cancel()).catch(() => undefined);
      throw err;
    });
    store.follow(store.watcher);
    return store;
  }

  current(): PrRecord {
    return this.record;
  }

  subscribe(listener: (record: PrRecord) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async commit(state: SharedPrState, effects: PrEffects, base: bigint): Promise<bigint | undefined> {
    const txn = this.client
      .if(this.key, 'Mod', '==', Number(base))
      .then(this.client.put(this.key).value(encodeReservations(this.nodeId, state, effects)))
      .options({ deadline: abandonDeadline(this.timeoutMs) });
    try {
      const res = await bounded(txn.commit(), this.timeoutMs, `writing ${this.key}`);
      return res.succeeded ? BigInt(res.header.revision) : undefined;
    } catch (err) {
      // A write etcd has not answered may still land later: the watch then brings it to every node,
      // this one too, with its effects, as if another node had made it.
      this.log?.warn({ err, base: String(base) }, 'reservation change not committed (it may still land when etcd answers)');
      throw err;
    }
  }

  async sync(): Promise<void> {
    const started = performance.now();
    const res = await bounded(this.client.get(this.key).options({ deadline: abandonDeadline(this.timeoutMs) }).exec(), this.timeoutMs, `reading ${this.key}`);
    const kv = res.kvs[0];
    const target = kv ? BigInt(kv.mod_revision) : undefined;
    const left = Math.max(1, this.timeoutMs - (performance.now() - started));
    const waiter = this.until((r) => (target === undefined ? r.base === 0n : r.revision >= target));
    try {
      await bounded(waiter.reached, left, `bringing the watch on ${this.key} up to revision ${target ?? 'of its deletion'}`);
    } finally {
      waiter.cancel();
    }
  }

  /** Stops the watch; the client stays the caller's. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.watcher?.cancel();
  }

  /** Resolves once a delivered record satisfies `done`; cancel() forgets the wait. */
  private until(done: (record: PrRecord) => boolean): { reached: Promise<void>; cancel: () => void } {
    if (done(this.record)) return { reached: Promise.resolve(), cancel: () => undefined };
    let waiter!: Waiter;
    const reached = new Promise<void>((resolve) => {
      waiter = { done, resolve };
      this.waiters.add(waiter);
    });
    return { reached, cancel: () => void this.waiters.delete(waiter) };
  }

  private follow(watcher: Watcher): void {
    watcher.on('put', (kv) => this.deliver(kv, false));
    watcher.on('delete', (kv) => this.deliver(kv, true));
    // etcd3 reconnects by itself and resumes after the last revision it delivered.
    watcher.on('error', (err) => this.log?.warn({ err }, 'etcd watch on reservations failed; reconnecting'));
    watcher.on('disconnected', (err) => this.log?.warn({ err }, 'etcd watch on reservations disconnected'));
  }

  private deliver(kv: IKeyValue, deleted: boolean): void {
    if (this.closed) return;
    const revision = BigInt(kv.mod_revision);
    if (revision <= this.record.revision) return;
    let record: PrRecord;
    if (deleted) {
      this.log?.warn({ revision: String(revision) }, 'reservation state deleted from etcd (not by Scatter): no registrations now');
      record = { revision, base: 0n, state: undefined };
    } else {
      try {
        record = { revision, base: revision, ...decodeReservations(kv.value.toString('utf8'), `etcd key ${this.key} (revision ${revision})`) };
      } catch (err) {
        // Someone wrote nonsense: keep the state, but the next change replaces it (compare on its revision).
        this.log?.error({ err }, 'reservation state in etcd unreadable; keeping the last good one');
        record = { revision, base: revision, state: this.record.state };
      }
    }
    this.record = record;
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch (err) {
        this.log?.error({ err }, 'reservation change listener threw');
      }
    }
    for (const w of this.waiters) {
      if (w.done(record)) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }
}

/** The factory the server calls per LU (cluster mode), before the LU is built; close() the store when the LU goes. */
export function createEtcdReservationStore(opts: EtcdReservationStoreOptions): Promise<EtcdReservationStore> {
  return EtcdReservationStore.create(opts);
}
/** `promise` bounded by withTimeout, its failure as the PrStoreUnavailableError the SCSI core maps to sense. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(promise, ms, `etcd: ${what}`).catch((err: unknown) => {
    throw err instanceof EtcdUnavailableError ? new PrStoreUnavailableError(err.message, err.timedOut, { cause: err }) : err;
  });
}
