/**
 * The cluster's shared configuration in etcd (docs/cluster.md, "Pieces", config): the shared part
 * (config-shared.ts: targets, backstores, discoveryAuth) at `keys.config`, every change a
 * compare-and-swap on the key's mod revision this node last saw; the rest of a node's config
 * comes from its own file.
 *
 * Start-up: `open` (starts the watch), `seedOrLoad(local)` (the first node writes its shared part,
 * the others take the cluster's), then `persistence(readLocal)` for the control plane and
 * `onRemoteChange(() => control.reload())`. Every etcd call is bounded by `timeoutMs`: etcd3 retries
 * for a long time against a frozen etcd, and an admin change must fail promptly, naming etcd.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { BackupInfo } from '../config/backups.js';
import type { Config } from '../config/schema.js';
import { ScatterError } from '../shared/errors.js';
import type { ClusterKeys } from './keys.js';
import { EtcdUnavailableError, abandonDeadline, withTimeout } from './etcd-timeout.js';

export { EtcdUnavailableError };
import { changedNodeLocalKeys, decodeShared, encodeShared, withShared } from './config-shared.js';

/** The control plane's ConfigPersistence (control/control-plane.ts), restated: cluster does not import control. */
export interface ClusterConfigPersistence {
  reread(): Promise<Config>;
  commit(previous: Config, next: Config): Promise<void>;
  listBackups(): Promise<readonly BackupInfo[]>;
}

export interface EtcdConfigStoreOptions {
  client: Etcd3;
  keys: ClusterKeys;
  nodeId: string;
  /** Bound on every etcd call (cluster.etcd.callTimeoutMs). */
  timeoutMs: number;
  /** For error messages: the endpoints the client talks to. */
  endpoints?: readonly string[];
  log: Logger;
}

/**
 * Another node changed the shared config since this node last read it (or this node's config is
 * not the one etcd holds): nothing was written. The control plane undoes its local apply; the
 * watch brings the other node's change, after which the change can be made again.
 */
export class ClusterConfigConflictError extends ScatterError<'CLUSTER_CONFIG_CONFLICT'> {
  constructor(
    readonly key: string,
    readonly seenRevision: number,
    reason: string,
  ) {
    super('CLUSTER_CONFIG_CONFLICT', `another node changed the cluster config (etcd key ${key}; ${reason}); nothing was written: retry once this node has the new config`);
  }
}

/** What this node last read or wrote at the key: the mod revision and the shared part, normalised. */
interface Seen {
  revision: number;
  text: string;
}

export class EtcdConfigStore {
  private readonly client: Etcd3;
  private readonly key: string;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly where: string;
  private seen: Seen | undefined;
  private readonly listeners = new Set<() => void>();
  /** Commits, rereads and seeds in flight: a watch event is judged once they settle. */
  private busy: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    opts: EtcdConfigStoreOptions,
    private readonly watcher: Watcher,
  ) {
    this.client = opts.client;
    this.key = opts.keys.config;
    this.timeoutMs = opts.timeoutMs;
    this.log = opts.log.child({ component: 'cluster-config', nodeId: opts.nodeId });
    this.where = opts.endpoints && opts.endpoints.length > 0 ? `etcd at ${opts.endpoints.join(', ')}` : 'etcd';
    watcher.on('put', (kv) => void this.onEvent('put', kv));
    watcher.on('delete', (kv) => void this.onEvent('delete', kv));
    // etcd3 reconnects by itself and resumes from the last revision it saw; log, never throw.
    watcher.on('error', (err) => this.log.warn({ err, key: this.key }, 'etcd watch on the cluster config failed; reconnecting'));
    watcher.on('disconnected', (err) => this.log.warn({ err, key: this.key }, 'etcd watch on the cluster config disconnected'));
  }

  /** Starts the watch on the config key (before anything is read, so no change falls between). */
  static async open(opts: EtcdConfigStoreOptions): Promise<EtcdConfigStore> {
    const created = opts.client.watch().key(opts.keys.config).create();
    const where = opts.endpoints && opts.endpoints.length > 0 ? `etcd at ${opts.endpoints.join(', ')}` : 'etcd';
    const watcher = await withTimeout(created, opts.timeoutMs, `${where}: starting a watch on ${opts.keys.config}`).catch((err: unknown) => {
      void created.then((w) => w.cancel()).catch(() => undefined);
      throw err;
    });
    return new EtcdConfigStore(opts, watcher);
  }

  /** The config key's mod revision this node last read or wrote (0 before seedOrLoad). */
  get revision(): number {
    return this.seen?.revision ?? 0;
  }

  /**
   * The config to start with: when etcd has no config yet, `local`'s shared part is written there
   * (only if the key is still absent: of two nodes starting together one seeds, the other loads);
   * otherwise `local` with its shared part replaced by the cluster's.
   */
  seedOrLoad(local: Config): Promise<Config> {
    return this.track(async () => {
      const text = encodeShared(local);
      const txn = this.client
        .if(this.key, 'Create', '==', 0)
        .then(this.client.put(this.key).value(text))
        .else(this.client.get(this.key))
        .options({ deadline: abandonDeadline(this.timeoutMs) });
      const res = await this.call(txn.commit(), `seeding ${this.key}`);
      if (res.succeeded) {
        this.seen = { revision: Number(res.header.revision), text };
        this.log.info({ key: this.key, revision: this.revision }, 'cluster config seeded from this node\'s file');
        return local;
      }
      const kv = res.responses[0]?.response_range?.kvs[0];
      if (!kv) throw new EtcdUnavailableError(`${this.where}: ${this.key} neither absent nor readable`);
      const config = this.adopt(local, kv);
      if (encodeShared(local) !== this.seen?.text) {
        this.log.warn({ key: this.key, revision: this.revision }, "this node's file has other targets, backstores or discovery auth than the cluster: the cluster's are served");
      }
      return config;
    });
  }

  /**
   * The control plane's persistence. `readLocal` reads the node's file (its node-local part is
   * used); the shared part comes from etcd.
   */
  persistence(readLocal: () => Promise<Config>): ClusterConfigPersistence {
    return {
      reread: () => this.reread(readLocal),
      commit: (previous, next) => this.commit(previous, next),
      // etcd keeps the revisions itself: the history is `etcdctl get <key> --rev=<n>` (until compacted).
      listBackups: () => Promise.resolve([]),
    };
  }

  /** `listener` runs when a revision of the config key appears that this node did not write or read. Returns an unsubscribe. */
  onRemoteChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Stops the watch (the client stays the caller's). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.watcher.cancel();
  }

  private reread(readLocal: () => Promise<Config>): Promise<Config> {
    return this.track(async () => {
      const local = await readLocal();
      const res = await this.call(this.client.get(this.key).options({ deadline: abandonDeadline(this.timeoutMs) }).exec(), `reading ${this.key}`);
      const kv = res.kvs[0];
      if (!kv) throw new EtcdUnavailableError(`${this.where}: the cluster config key ${this.key} is missing (deleted?); put it back with etcdctl (see its history with etcdctl get --rev)`);
      return this.adopt(local, kv);
    });
  }

  private commit(previous: Config, next: Config): Promise<void> {
    return this.track(async () => {
      const local = changedNodeLocalKeys(previous, next);
      if (local.length > 0) {
        throw new Error(`${local.join(', ')} ${local.length === 1 ? 'is' : 'are'} this node's own (not in etcd): change ${local.length === 1 ? 'it' : 'them'} in the node's config file and reload`);
      }
      const text = encodeShared(next);
      if (text === encodeShared(previous)) return;
      const seen = this.seen;
      if (!seen) throw new Error('cluster config store: commit before seedOrLoad');
      if (encodeShared(previous) !== seen.text) {
        throw new ClusterConfigConflictError(this.key, seen.revision, `this node has not applied revision ${seen.revision} yet`);
      }
      const txn = this.client
        .if(this.key, 'Mod', '==', seen.revision)
        .then(this.client.put(this.key).value(text))
        .options({ deadline: abandonDeadline(this.timeoutMs) });
      // A write etcd has not answered may still land once it answers: the watch then brings it back
      // to every node, this one too (its revision is not one this node saw), as a remote change.
      const res = await this.call(txn.commit(), `writing ${this.key}`, ' (the change may still land when etcd answers; every node then applies it)');
      if (!res.succeeded) throw new ClusterConfigConflictError(this.key, seen.revision, `it is no longer at revision ${seen.revision}`);
      this.seen = { revision: Number(res.header.revision), text };
      this.log.info({ key: this.key, revision: this.revision }, 'cluster config written');
    });
  }

  /** `local` with the shared part `kv` holds; records it as seen. */
  private adopt(local: Config, kv: IKeyValue): Config {
    const revision = Number(kv.mod_revision);
    const source = `etcd key ${this.key} (revision ${revision})`;
    const config = withShared(local, decodeShared(kv.value.toString('utf8'), source), source);
    this.seen = { revision, text: encodeShared(config) };
    return config;
  }

  private async onEvent(kind: 'put' | 'delete', kv: IKeyValue): Promise<void> {
    await this.busy; // a commit in flight may be this very revision
    const revision = Number(kv.mod_revision);
    if (this.closed || !this.seen || (kind === 'put' && revision <= this.seen.revision)) return;
    this.log.info({ key: this.key, revision, kind, seen: this.seen.revision }, 'cluster config changed by another node');
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err }, 'cluster config change listener threw');
      }
    }
  }

  /** Runs `work` with watch events held until it settles. */
  private track<T>(work: () => Promise<T>): Promise<T> {
    const run = work();
    const settled = run.catch(() => undefined);
    const before = this.busy;
    this.busy = Promise.all([before, settled]);
    return run;
  }

  private call<T>(promise: Promise<T>, what: string, lateNote = ''): Promise<T> {
    return withTimeout(promise, this.timeoutMs, `${this.where}: ${what}`, lateNote);
  }
}
