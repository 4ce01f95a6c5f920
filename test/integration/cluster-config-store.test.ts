/**
 * EtcdConfigStore against a real etcd (a private member from test/helpers/etcd.ts), two stores as
 * two nodes: the first seeds the shared part, the second serves the cluster's targets rather than
 * its file's; a commit reaches the other node through its watch; of two concurrent commits or two
 * concurrent seeds exactly one wins; a corrupt value is refused naming the key; a frozen etcd fails
 * a commit within the timeout, naming etcd; node-local keys never reach etcd.
 */
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterKeys } from '../../src/cluster/keys.js';
import { ClusterConfigConflictError, EtcdConfigStore, EtcdUnavailableError } from '../../src/cluster/config-store.js';
import { ConfigError } from '../../src/config/error.js';
import { toFileForm } from '../../src/config/file-form.js';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { missingEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { run } from '../helpers/tools.js';
import { waitUntil, within } from '../helpers/wait.js';

const missing = missingEtcd();
const TIMEOUT_MS = 600;
const log = pino({ level: 'silent' });

function iqn(name: string): string {
  return `iqn.2026-11.io.scatter:${name}`;
}

/** A node's file: its own portal and admin port, and its own idea of the targets. */
function nodeFile(cluster: string, nodeId: string, port: number, targets: string[], endpoint: string): Config {
  return ConfigSchema.parse({
    iscsi: { portals: [{ host: '127.0.0.1', port }] },
    admin: { port: port + 1 },
    backstores: targets.map((t) => ({ name: `${t}-disk`, type: 'null', size: '16MiB' })),
    targets: targets.map((t) => ({ iqn: iqn(t), luns: [{ lun: 0, backstore: `${t}-disk` }] })),
    cluster: { name: cluster, nodeId, portGroup: port - 3000, etcd: { endpoints: [endpoint] } },
  });
}

/** `config` with one more target (a null LUN of its own). */
function withTarget(config: Config, name: string): Config {
  const form = toFileForm(config);
  return ConfigSchema.parse({ ...form, targets: [...(form.targets ?? []), { iqn: iqn(name), luns: [{ lun: 0, backstore: { type: 'null', size: '8MiB' } }] }] });
}

function iqns(config: Config): string[] {
  return config.targets.map((t) => t.iqn).sort();
}

describe.skipIf(missing.length > 0)('EtcdConfigStore with a real etcd', () => {
  let etcd: TestEtcd;
  let clusterNo = 0;
  const clients: Etcd3[] = [];
  const stores: EtcdConfigStore[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterEach(async () => {
    etcd?.thaw();
    await Promise.all(stores.splice(0).map((s) => s.close().catch(() => undefined)));
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  /** A fresh cluster name per test: its own config key. */
  function cluster(): { name: string; keys: ClusterKeys } {
    const name = `cfg${++clusterNo}`;
    return { name, keys: new ClusterKeys(name) };
  }

  function client(): Etcd3 {
    const c = new Etcd3({ hosts: etcd.endpoint, dialTimeout: 2000 });
    clients.push(c);
    return c;
  }

  async function store(keys: ClusterKeys, nodeId: string, etcdClient = client()): Promise<EtcdConfigStore> {
    const s = await EtcdConfigStore.open({ client: etcdClient, keys, nodeId, timeoutMs: TIMEOUT_MS, endpoints: [etcd.endpoint], log });
    stores.push(s);
    return s;
  }

  function etcdctl(...args: string[]) {
    return run(etcd.etcdctl, [`--endpoints=${etcd.endpoint}`, '--dial-timeout=2s', '--command-timeout=5s', ...args], 20_000);
  }

  async function held(key: string): Promise<Record<string, unknown>> {
    const got = await etcdctl('get', key, '--print-value-only');
    expect(got.code, got.stderr).toBe(0);
    return JSON.parse(got.stdout) as Record<string, unknown>;
  }

  it("seeds from the first node's file; a second node serves the cluster's targets, not its file's", async () => {
    const { name, keys } = cluster();
    const fileA = nodeFile(name, 'a', 3260, ['alpha'], etcd.endpoint);
    const fileB = nodeFile(name, 'b', 4260, ['beta'], etcd.endpoint);
    const a = await store(keys, 'a');
    const b = await store(keys, 'b');

    const startA = await a.seedOrLoad(fileA);
    expect(startA).toEqual(fileA);
    expect(a.revision).toBeGreaterThan(0);
    const startB = await b.seedOrLoad(fileB);
    expect(iqns(startB)).toEqual([iqn('alpha')]);
    expect(startB.targets[0]?.luns[0]).toMatchObject({ backstoreName: 'alpha-disk', backstore: { type: 'null', size: 16 * 2 ** 20 } });
    expect(startB.backstores.map((s) => s.name)).toEqual(['alpha-disk']);
    // B keeps its own node-local keys.
    expect(startB.iscsi.portals).toEqual(fileB.iscsi.portals);
    expect(startB.admin.port).toBe(4261);
    expect(startB.cluster?.nodeId).toBe('b');
    expect(b.revision).toBe(a.revision);
  });

  it("a node's commit reaches the other node's watch, whose reread returns it; node-local keys never go to etcd", async () => {
    const { name, keys } = cluster();
    const fileA = nodeFile(name, 'a', 3260, ['alpha'], etcd.endpoint);
    const fileB = nodeFile(name, 'b', 4260, ['beta'], etcd.endpoint);
    const a = await store(keys, 'a');
    const b = await store(keys, 'b');
    const desiredA = await a.seedOrLoad(fileA);
    await b.seedOrLoad(fileB);
    let aHeard = 0;
    a.onRemoteChange(() => aHeard++);
    const bHeard = new Promise<void>((resolve) => b.onRemoteChange(resolve));

    const next = withTarget(desiredA, 'gamma');
    const before = a.revision;
    await a.persistence(() => Promise.resolve(fileA)).commit(desiredA, next);
    expect(a.revision).toBeGreaterThan(before);
    await within(bHeard, 5_000, "B's watch seeing A's commit");

    const reread = await b.persistence(() => Promise.resolve(fileB)).reread();
    expect(iqns(reread)).toEqual([iqn('alpha'), iqn('gamma')]);
    expect(reread.iscsi.portals).toEqual(fileB.iscsi.portals);
    expect(b.revision).toBe(a.revision);
    expect(aHeard).toBe(0); // its own write is not a remote change

    const value = await held(keys.config);
    expect(Object.keys(value).sort()).toEqual(['backstores', 'discoveryAuth', 'targets']);
    const text = JSON.stringify(value);
    for (const local of ['portals', 'admin', '3260', '3261', 'cluster', 'stateDir', 'logLevel', 'memory']) expect(text).not.toContain(local);
  });

  it('refuses a change to node-local keys (they live in the node file), writing nothing', async () => {
    const { name, keys } = cluster();
    const fileA = nodeFile(name, 'a', 3260, ['alpha'], etcd.endpoint);
    const a = await store(keys, 'a');
    const desired = await a.seedOrLoad(fileA);
    const rev = a.revision;
    const moved = ConfigSchema.parse({ ...toFileForm(desired), admin: { port: 5555 } });
    await expect(a.persistence(() => Promise.resolve(fileA)).commit(desired, moved)).rejects.toThrow(/admin is this node's own/);
    expect(a.revision).toBe(rev);
    expect(JSON.stringify(await held(keys.config))).not.toContain('5555');
  });

  it('of two concurrent commits exactly one succeeds; the other is told another node changed the config, and etcd holds the winner', async () => {
    const { name, keys } = cluster();
    const fileA = nodeFile(name, 'a', 3260, ['alpha'], etcd.endpoint);
    const fileB = nodeFile(name, 'b', 4260, ['beta'], etcd.endpoint);
    const a = await store(keys, 'a');
    const b = await store(keys, 'b');
    const desiredA = await a.seedOrLoad(fileA);
    const desiredB = await b.seedOrLoad(fileB);
    const nextA = withTarget(desiredA, 'from-a');
    const nextB = withTarget(desiredB, 'from-b');

    const results = await Promise.allSettled([
      a.persistence(() => Promise.resolve(fileA)).commit(desiredA, nextA),
      b.persistence(() => Promise.resolve(fileB)).commit(desiredB, nextB),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toBeInstanceOf(ClusterConfigConflictError);
    expect(String(lost[0]?.reason)).toMatch(/another node changed the cluster config .*retry/);
    const winner = results[0]?.status === 'fulfilled' ? 'from-a' : 'from-b';
    const loser = winner === 'from-a' ? 'from-b' : 'from-a';
    const text = JSON.stringify(await held(keys.config));
    expect(text).toContain(iqn(winner));
    expect(text).not.toContain(iqn(loser));

    // The loser rereads (what its control plane's reload does) and can then change the config again.
    const [loserStore, loserFile, loserName] = winner === 'from-a' ? [b, fileB, 'b2'] : [a, fileA, 'a2'];
    const persistence = loserStore.persistence(() => Promise.resolve(loserFile));
    const current = await persistence.reread();
    expect(iqns(current)).toContain(iqn(winner));
    await persistence.commit(current, withTarget(current, loserName));
    expect(JSON.stringify(await held(keys.config))).toContain(iqn(loserName));
  });

  it("refuses a commit from a node that has not applied etcd's current revision", async () => {
    const { name, keys } = cluster();
    const fileA = nodeFile(name, 'a', 3260, ['alpha'], etcd.endpoint);
    const a = await store(keys, 'a');
    const desired = await a.seedOrLoad(fileA);
    const persistence = a.persistence(() => Promise.resolve(fileA));
    // A reread whose apply then failed: the store saw the new revision, the control plane still runs `desired`.
    const other = await store(keys, 'b');
    const otherDesired = await other.seedOrLoad(nodeFile(name, 'b', 4260, [], etcd.endpoint));
    await other.persistence(() => Promise.reject(new Error('unused'))).commit(otherDesired, withTarget(otherDesired, 'b-added'));
    await persistence.reread();
    await expect(persistence.commit(desired, withTarget(desired, 'stale'))).rejects.toBeInstanceOf(ClusterConfigConflictError);
    expect(JSON.stringify(await held(keys.config))).not.toContain(iqn('stale'));
  });

  it('of two nodes seeding at once exactly one seed wins, and both load the same', async () => {
    const { name, keys } = cluster();
    const fileA = nodeFile(name, 'a', 3260, ['alpha'], etcd.endpoint);
    const fileB = nodeFile(name, 'b', 4260, ['beta'], etcd.endpoint);
    const a = await store(keys, 'a');
    const b = await store(keys, 'b');
    const [startA, startB] = await Promise.all([a.seedOrLoad(fileA), b.seedOrLoad(fileB)]);
    expect(iqns(startA)).toEqual(iqns(startB));
    expect(iqns(startA)).toHaveLength(1);
    expect(a.revision).toBe(b.revision);
    const hist = await etcdctl('get', keys.config, '--write-out=json');
    const kv = (JSON.parse(hist.stdout) as { kvs: { version: number; value: string }[] }).kvs[0];
    expect(kv?.version).toBe(1); // written once
    expect(JSON.stringify(JSON.parse(Buffer.from(kv?.value ?? '', 'base64').toString()))).toContain(iqns(startA)[0]);
  });

  it('refuses a corrupt value in etcd with an error naming the key', async () => {
    const { name, keys } = cluster();
    const raw = client();
    const fileA = nodeFile(name, 'a', 3260, ['alpha'], etcd.endpoint);

    await raw.put(keys.config).value('{"targets": [').exec();
    const a = await store(keys, 'a');
    const notJson = a.seedOrLoad(fileA);
    await expect(notJson).rejects.toBeInstanceOf(ConfigError);
    await expect(notJson).rejects.toThrow(new RegExp(`^etcd key ${keys.config} \\(revision \\d+\\): \\(root\\): not JSON`));

    const put = await etcdctl('put', keys.config, '{"targets":[{"iqn":"no-such-name","luns":[]}],"admin":{"port":1}}');
    expect(put.code, put.stderr).toBe(0);
    const invalid = a.seedOrLoad(fileA);
    await expect(invalid).rejects.toThrow(`etcd key ${keys.config}`);
    await expect(invalid).rejects.toThrow(/admin: is not shared through etcd/);

    await etcdctl('put', keys.config, '{"targets":[{"iqn":"no-such-name","luns":[]}]}');
    const reread = a.persistence(() => Promise.resolve(fileA)).reread();
    await expect(reread).rejects.toThrow(new RegExp(`^etcd key ${keys.config} \\(revision \\d+\\): targets\\[0\\]\\.iqn: `));
  });

  it('with etcd frozen a commit fails within the timeout naming etcd; after the thaw a commit works', async () => {
    const { name, keys } = cluster();
    const fileA = nodeFile(name, 'a', 3260, ['alpha'], etcd.endpoint);
    const fileB = nodeFile(name, 'b', 4260, ['beta'], etcd.endpoint);
    const a = await store(keys, 'a');
    const b = await store(keys, 'b');
    const desired = await a.seedOrLoad(fileA);
    await b.seedOrLoad(fileB);
    const persistence = a.persistence(() => Promise.resolve(fileA));

    etcd.freeze();
    const started = performance.now();
    const frozen = persistence.commit(desired, withTarget(desired, 'frozen'));
    await expect(frozen).rejects.toBeInstanceOf(EtcdUnavailableError);
    const took = performance.now() - started;
    await expect(frozen).rejects.toThrow(`etcd at ${etcd.endpoint}: writing ${keys.config}: no answer within ${TIMEOUT_MS} ms`);
    expect(took).toBeLessThan(TIMEOUT_MS + 400);
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    etcd.thaw();

    // The write etcd did not answer in time may still land once it runs again (the message says so);
    // then it comes back through the watch like any remote change. Either way, once this node has
    // reread the current revision, a commit works: retried on a conflict, as the error says.
    const bHeard = new Promise<void>((resolve) => b.onRemoteChange(resolve));
    let conflicts = 0;
    await waitUntil(
      async () => {
        const current = await persistence.reread();
        try {
          await persistence.commit(current, withTarget(current, 'thawed'));
          return true;
        } catch (err) {
          if (!(err instanceof ClusterConfigConflictError)) throw err;
          conflicts++;
          return false;
        }
      },
      'a commit after the thaw',
      { timeoutMs: 10_000, pollMs: 20 },
    );
    expect(conflicts).toBeLessThanOrEqual(1); // at most the late write of the frozen commit
    await within(bHeard, 5_000, "B's watch seeing the commit after the thaw");
    const text = JSON.stringify(await held(keys.config));
    expect(text).toContain(iqn('thawed'));
  });
});
