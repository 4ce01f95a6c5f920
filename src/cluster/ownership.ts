/**
 * Which node owns (serves as Active/Optimized) each logical unit: the key `owner/<iqn>/<lun>`,
 * created under the owner's lease, so that it disappears when the owner's lease does
 * (docs/cluster.md, "Fencing before failover"). A node elects itself by creating the key in a
 * transaction that succeeds only while it is absent; every node follows the keys with a watch.
 *
 * A node that wins an election waits `graceMs` (Transitioning) before it serves as owner: the key
 * was deleted with the old owner's lease, and the old owner fenced itself a margin before that,
 * so the grace keeps its last writes and the new owner's first ones apart. A planned drain hands
 * the key over in one transaction after the old owner has stopped and flushed; the new owner then
 * serves at once.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { luSegment, type ClusterKeys, type LuName } from './keys.js';
import { withTimeout } from './etcd-timeout.js';
import { readAndWatch } from './prefix-watch.js';
import { LogEvent } from '../shared/log-events.js';

/** This node's relation to one LU. */
export type OwnerPhase =
  /** Another node (or none yet) owns it. */
  | 'follower'
  /** Won the election; waiting out the grace before serving. */
  | 'acquiring'
  | 'owner'
  /** Handing it to another node: no new commands, the ones under way finish. */
  | 'draining';

interface OwnerRecord {
  readonly nodeId: string;
  /** Set by a drain: the old owner stopped and flushed, no grace needed. */
  readonly handover?: boolean;
  readonly since: string;
}

interface OwnerKey {
  readonly record: OwnerRecord;
  readonly modRevision: string;
}

interface Tracked {
  readonly lu: LuName;
  readonly key: string;
  phase: OwnerPhase;
  grace: ReturnType<typeof setTimeout> | undefined;
  /** An election transaction is under way (its own put may come through the watch first). */
  electing: boolean;
}

export interface OwnershipOptions {
  readonly client: Etcd3;
  readonly keys: ClusterKeys;
  readonly nodeId: string;
  readonly graceMs: number;
  readonly timeoutMs: number;
  readonly log: Logger;
  /** This node's current lease (undefined while it has none). */
  leaseId(): string | undefined;
  /** Whether this node may take ownership now (its lease is valid and not fenced). */
  mayOwn(): boolean;
}

export interface OwnershipEvents {
  /** Ownership or this node's phase changed for these LUs. */
  change: [LuName[]];
}

export class NotOwnerError extends Error {
  constructor(
    readonly lu: LuName,
    readonly owner: string | undefined,
  ) {
    super(`${luSegment(lu)} is owned by ${owner === undefined ? 'no node right now' : `node ${owner}`}, not this one: drain it through its owner`);
    this.name = 'NotOwnerError';
  }
}

export class DrainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DrainError';
  }
}

/** How long a drain waits for the LU's commands under way (a write waiting for Data-Out may take long). */
export const DRAIN_QUIESCE_MS = 10_000;

function boundedQuiesce(quiesced: Promise<void>, seg: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DrainError(`commands under way on ${seg} did not finish within ${DRAIN_QUIESCE_MS / 1000} s; it stays with this node`)), DRAIN_QUIESCE_MS);
  });
  return Promise.race([quiesced, late]).finally(() => clearTimeout(timer));
}

function parseRecord(text: string): OwnerRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<OwnerRecord>;
    return typeof v.nodeId === 'string' ? (v as OwnerRecord) : undefined;
  } catch {
    return undefined;
  }
}

export class Ownership extends EventEmitter<OwnershipEvents> {
  /** Every owner key in etcd, by LU segment (also of LUs this node does not serve). */
  private readonly owners = new Map<string, OwnerKey>();
  private readonly tracked = new Map<string, Tracked>();
  private watcher: Watcher | undefined;
  private closed = false;
  /** Ownership changes seen, by LU segment (metrics). */
  private readonly moves = new Map<string, number>();

  constructor(private readonly opts: OwnershipOptions) {
    super();
  }

  /** Load every owner key and follow them. */
  async start(): Promise<void> {
    const { client, keys, timeoutMs } = this.opts;
    const { kvs, watcher } = await readAndWatch(client, keys.owners, timeoutMs, 'LU owners');
    for (const kv of kvs) {
      const record = parseRecord(kv.value.toString());
      if (record) this.owners.set(kv.key.toString().slice(keys.owners.length), { record, modRevision: kv.mod_revision });
    }
    this.watcher = watcher;
    this.watcher.on('put', (kv) => this.onPut(kv.key.toString(), kv.value.toString(), kv.mod_revision));
    this.watcher.on('delete', (kv) => this.onDelete(kv.key.toString()));
    this.watcher.on('error', (err: Error) => this.opts.log.warn({ err }, 'cluster: owner watch failed; etcd3 retries it'));
  }

  /** The LUs this node serves: new ones are elected for, gone ones given up (their key deleted if ours). */
  async track(lus: readonly LuName[]): Promise<void> {
    const wanted = new Map(lus.map((lu) => [luSegment(lu), lu]));
    for (const [seg, t] of this.tracked) {
      if (wanted.has(seg)) continue;
      this.tracked.delete(seg);
      if (t.grace) clearTimeout(t.grace);
      if (t.phase !== 'follower') await this.release(t).catch((err: unknown) => this.opts.log.warn({ err, lu: seg }, 'cluster: could not release ownership of a removed LU'));
    }
    for (const [seg, lu] of wanted) {
      if (this.tracked.has(seg)) continue;
      const t: Tracked = { lu, key: this.opts.keys.owner(lu), phase: 'follower', grace: undefined, electing: false };
      this.tracked.set(seg, t);
      // A key naming us that we did not just win (an LU removed and added back): serve after the grace, to be safe.
      if (this.owners.get(seg)?.record.nodeId === this.opts.nodeId) this.startGrace(t);
    }
    await this.electAll();
  }

  /** Try to take every tracked LU that has no owner. Safe to call at any time (lease renewed, node joined). */
  async electAll(): Promise<void> {
    await Promise.all([...this.tracked.values()].map((t) => this.elect(t)));
  }

  private async elect(t: Tracked): Promise<void> {
    const seg = luSegment(t.lu);
    const lease = this.opts.leaseId();
    if (this.closed || this.owners.has(seg) || lease === undefined || !this.opts.mayOwn()) return;
    const { client, nodeId, timeoutMs, log } = this.opts;
    const record: OwnerRecord = { nodeId, since: new Date().toISOString() };
    t.electing = true;
    try {
      const res = await withTimeout(
        client.if(t.key, 'Create', '==', 0).then(client.put(t.key).value(JSON.stringify(record)).lease(lease)).commit(),
        timeoutMs,
        `etcd: electing an owner for ${seg}`,
      );
      if (!res.succeeded || !this.tracked.has(seg)) return;
      const rev = res.header.revision;
      this.owners.set(seg, { record, modRevision: rev });
      log.info({ event: LogEvent.clusterOwner, lu: seg, node: nodeId, graceMs: this.opts.graceMs }, 'cluster: this node owns the LU now; serving after the grace');
      this.count(seg);
      this.startGrace(t);
    } catch (err) {
      log.warn({ err, lu: seg }, 'cluster: owner election failed; retried when etcd or the lease changes');
    } finally {
      t.electing = false;
    }
  }

  /** Transitioning for graceMs, then owner, if the key still names us. */
  private startGrace(t: Tracked): void {
    if (t.grace) clearTimeout(t.grace);
    this.setPhase(t, 'acquiring');
    t.grace = setTimeout(() => {
      t.grace = undefined;
      if (t.phase === 'acquiring' && this.owners.get(luSegment(t.lu))?.record.nodeId === this.opts.nodeId) this.setPhase(t, 'owner');
    }, this.opts.graceMs);
  }

  private onPut(key: string, value: string, modRevision: string): void {
    const seg = key.slice(this.opts.keys.owners.length);
    const record = parseRecord(value);
    if (!record) return;
    const before = this.owners.get(seg);
    this.owners.set(seg, { record, modRevision });
    const t = this.tracked.get(seg);
    if (before?.record.nodeId !== record.nodeId && before !== undefined) this.count(seg);
    if (!t) return;
    if (record.nodeId === this.opts.nodeId) {
      if (t.phase !== 'follower' || t.electing) return; // our own election; elect() starts the grace
      if (record.handover === true) {
        this.opts.log.info({ event: LogEvent.clusterOwner, lu: seg, node: this.opts.nodeId, handover: true }, 'cluster: LU handed over to this node');
        this.setPhase(t, 'owner');
      } else {
        this.startGrace(t);
      }
      return;
    }
    if (t.grace) clearTimeout(t.grace);
    t.grace = undefined;
    if (t.phase !== 'follower') this.setPhase(t, 'follower');
    else this.emit('change', [t.lu]);
  }

  private onDelete(key: string): void {
    const seg = key.slice(this.opts.keys.owners.length);
    this.owners.delete(seg);
    const t = this.tracked.get(seg);
    if (!t) return;
    if (t.grace) clearTimeout(t.grace);
    t.grace = undefined;
    if (t.phase !== 'follower') this.setPhase(t, 'follower');
    else this.emit('change', [t.lu]);
    void this.elect(t);
  }

  private setPhase(t: Tracked, phase: OwnerPhase): void {
    if (t.phase === phase) return;
    t.phase = phase;
    this.emit('change', [t.lu]);
  }

  private count(seg: string): void {
    this.moves.set(seg, (this.moves.get(seg) ?? 0) + 1);
  }

  /** Delete our key (a removed LU): compare the revision so that a newer owner's key is never touched. */
  private async release(t: Tracked): Promise<void> {
    const seg = luSegment(t.lu);
    const own = this.owners.get(seg);
    if (!own || own.record.nodeId !== this.opts.nodeId) return;
    const { client, timeoutMs } = this.opts;
    await withTimeout(client.if(t.key, 'Mod', '==', own.modRevision).then(client.delete().key(t.key)).commit(), timeoutMs, `etcd: releasing ${seg}`);
  }

  // ---- queries ----

  phaseOf(lu: LuName): OwnerPhase {
    return this.tracked.get(luSegment(lu))?.phase ?? 'follower';
  }

  ownerOf(lu: LuName): string | undefined {
    return this.owners.get(luSegment(lu))?.record.nodeId;
  }

  /** How many times the owner of `lu` changed as this node saw it (elections and handovers). */
  movesOf(lu: LuName): number {
    return this.moves.get(luSegment(lu)) ?? 0;
  }

  trackedLus(): LuName[] {
    return [...this.tracked.values()].map((t) => t.lu);
  }

  /**
   * Our lease is gone (etcd deleted our keys, or will): every LU we owned is someone else's to
   * elect. The watch delivers the deletes too, but possibly much later (etcd unreachable).
   */
  leaseLost(): void {
    const changed: LuName[] = [];
    for (const [seg, t] of this.tracked) {
      if (this.owners.get(seg)?.record.nodeId === this.opts.nodeId) this.owners.delete(seg);
      if (t.grace) clearTimeout(t.grace);
      t.grace = undefined;
      if (t.phase !== 'follower') {
        t.phase = 'follower';
        changed.push(t.lu);
      }
    }
    if (changed.length > 0) this.emit('change', changed);
  }

  // ---- planned move ----

  /**
   * Hand `lu` to node `to` (docs/cluster.md, "planned drain"): stop taking commands for it
   * (Transitioning), wait for `quiesce` (commands under way finish, the cache is flushed), then
   * give the key to `to`'s lease in one transaction that compares our key's revision.
   */
  async drain(lu: LuName, to: string, quiesce: () => Promise<void>): Promise<void> {
    const seg = luSegment(lu);
    const t = this.tracked.get(seg);
    const own = this.owners.get(seg);
    if (!t) throw new DrainError(`this node does not serve ${seg}`);
    if (!own || own.record.nodeId !== this.opts.nodeId || t.phase !== 'owner') throw new NotOwnerError(lu, own?.record.nodeId);
    if (to === this.opts.nodeId) throw new DrainError(`${seg} is to go to node ${to}, which is this node`);
    const { client, keys, timeoutMs, log } = this.opts;
    const target = await withTimeout(client.get(keys.node(to)).exec(), timeoutMs, `etcd: reading node ${to}`);
    const toLease = target.kvs[0]?.lease;
    if (toLease === undefined || toLease === '0') throw new DrainError(`node ${to} is not live in the cluster`);
    this.setPhase(t, 'draining');
    try {
      await boundedQuiesce(quiesce(), seg);
      const record: OwnerRecord = { nodeId: to, handover: true, since: new Date().toISOString() };
      const res = await withTimeout(
        client.if(t.key, 'Mod', '==', own.modRevision).then(client.put(t.key).value(JSON.stringify(record)).lease(toLease)).commit(),
        timeoutMs,
        `etcd: handing ${seg} to node ${to}`,
      );
      if (!res.succeeded) throw new DrainError(`the owner of ${seg} changed during the drain`);
      // The watch may have brought the handover already (and counted it).
      if (this.owners.get(seg)?.record.nodeId === this.opts.nodeId) {
        this.owners.set(seg, { record, modRevision: res.header.revision });
        this.count(seg);
      }
      log.info({ event: LogEvent.clusterDrained, lu: seg, from: this.opts.nodeId, to }, 'cluster: LU handed over');
      this.setPhase(t, 'follower');
    } catch (err) {
      // Still ours (etcd refused or did not answer): serve again rather than leave it Transitioning.
      if ((t.phase as OwnerPhase) === 'draining' && this.owners.get(seg)?.record.nodeId === this.opts.nodeId) this.setPhase(t, 'owner');
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.tracked.values()) if (t.grace) clearTimeout(t.grace);
    await this.watcher?.cancel();
    this.watcher = undefined;
  }
}
