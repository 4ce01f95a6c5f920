/**
 * NodeLease against a real etcd (a private member from test/helpers/etcd.ts): the node key lives
 * under the lease and goes with close(); with etcd frozen the node fences itself before etcd could
 * expire the lease (docs/cluster.md, "Fencing before failover", rule 1), etcd3 then reports the lease
 * lost, and after the thaw etcd does expire it; a revoke from outside is reported as lost.
 */
import { once } from 'node:events';
import { Etcd3, type Watcher } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeLease, type FencedEvent, type LeaseClient } from '../../src/cluster/node-lease.js';
import { missingEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { run } from '../helpers/tools.js';
import { within } from '../helpers/wait.js';

const missing = missingEtcd();
const PREFIX = '/scatter/test';
const TTL_S = 2;
const MARGIN_MS = 500;

describe.skipIf(missing.length > 0)('NodeLease with a real etcd', () => {
  let etcd: TestEtcd;
  let client: Etcd3;
  let observer: Etcd3; // a second node's view of etcd
  const leases: NodeLease[] = [];
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    client = new Etcd3({ hosts: etcd.endpoint, dialTimeout: 2000 });
    observer = new Etcd3({ hosts: etcd.endpoint, dialTimeout: 2000 });
  });
  afterEach(async () => {
    etcd?.thaw();
    await Promise.all(watchers.splice(0).map((w) => w.cancel()));
    await Promise.all(leases.splice(0).map((l) => l.close().catch(() => undefined)));
  });
  afterAll(async () => {
    client?.close();
    observer?.close();
    await etcd?.stop();
  });

  function nodeLease(nodeId: string, marginMs = MARGIN_MS): NodeLease {
    const asLeaseClient: LeaseClient = client; // the real client fits the interface NodeLease uses
    const lease = new NodeLease({ client: asLeaseClient, prefix: PREFIX, nodeId, ttlSeconds: TTL_S, marginMs });
    leases.push(lease);
    return lease;
  }

  function etcdctl(...args: string[]) {
    return run(etcd.etcdctl, [`--endpoints=${etcd.endpoint}`, '--dial-timeout=2s', '--command-timeout=5s', ...args], 20_000);
  }

  /** The key's deletion as a second client's watch sees it (wrapped: an async function would await it). */
  async function deletion(key: string): Promise<{ deleted: Promise<unknown> }> {
    const watcher = await observer.watch().key(key).create();
    watchers.push(watcher);
    watcher.on('error', () => undefined); // reconnects on its own while etcd is frozen
    return { deleted: once(watcher, 'delete') };
  }

  it('puts the node key under the lease and removes it at once on close', async () => {
    const lease = nodeLease('a');
    await lease.start();
    const hexId = BigInt(lease.id ?? '').toString(16);

    const ttl = await etcdctl('lease', 'timetolive', hexId, '--keys');
    expect(ttl.code, ttl.stderr).toBe(0);
    expect(ttl.stdout).toContain(`granted with TTL(${TTL_S}s)`);
    expect(ttl.stdout).toContain(`attached keys([${PREFIX}/nodes/a])`);
    const got = await etcdctl('get', lease.key, '--print-value-only');
    expect(JSON.parse(got.stdout)).toMatchObject({ nodeId: 'a' });

    await lease.close();
    const after = await etcdctl('get', lease.key, '--keys-only');
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout.trim()).toBe('');
    expect((await etcdctl('lease', 'timetolive', hexId)).stdout).toContain('already expired');
  });

  it('fences itself before etcd could expire the lease; etcd3 reports it lost; etcd expires it after the thaw', async () => {
    const lease = nodeLease('b');
    const seen: string[] = [];
    lease.on('fenced', () => seen.push('fenced'));
    lease.on('renewed', () => seen.push('renewed'));
    lease.on('lost', () => seen.push('lost'));
    await lease.start();
    const { deleted } = await deletion(lease.key);
    const fencedP = once(lease, 'fenced') as Promise<[FencedEvent]>;
    const lostP = once(lease, 'lost');

    const frozenAt = performance.now();
    etcd.freeze();
    const [fenced] = await within(fencedP, 5_000, 'fenced with etcd frozen');
    // etcd restarts the TTL when it receives a keepalive, which is after lastConfirmedAt (its send).
    expect(fenced.at - fenced.lastConfirmedAt).toBeGreaterThanOrEqual(TTL_S * 1000 - MARGIN_MS);
    expect(fenced.at - fenced.lastConfirmedAt).toBeLessThan(TTL_S * 1000);
    expect(fenced.lastConfirmedAt).toBeLessThanOrEqual(frozenAt);
    expect(lease.state).toBe('fenced');

    // etcd3 gives up by itself about 2 × TTL after its last keepalive, etcd still frozen: by then
    // etcd's own timer for the lease has run out, so after the thaw it cannot be renewed.
    await within(lostP, 4 * TTL_S * 1000, 'lost (etcd3 gives up 2 × TTL after the last keepalive)');
    expect(performance.now() - fenced.lastConfirmedAt).toBeGreaterThan(TTL_S * 1000);
    etcd.thaw();
    await within(deleted, 10_000, 'etcd deleting the node key when it expires the lease after the thaw');
    expect(seen).toEqual(['fenced', 'lost']);
    expect(lease.state).toBe('lost');
  });

  it('renews when etcd answers again before the lease ran out', async () => {
    // A wide margin: the fence comes 1 s before etcd's earliest expiry, and the thaw right after it.
    const lease = nodeLease('d', 1000);
    const seen: string[] = [];
    lease.on('fenced', () => seen.push('fenced'));
    lease.on('renewed', () => seen.push('renewed'));
    lease.on('lost', () => seen.push('lost'));
    await lease.start();
    const fencedP = once(lease, 'fenced') as Promise<[FencedEvent]>;
    const renewedP = once(lease, 'renewed');

    etcd.freeze();
    const [fenced] = await within(fencedP, 5_000, 'fenced with etcd frozen');
    etcd.thaw();
    // etcd answers the keepalives queued while it was frozen; the lease never expired.
    await within(renewedP, 5_000, 'renewed after the thaw');
    expect(lease.lastConfirmedAt).toBeGreaterThan(fenced.lastConfirmedAt);
    expect(lease.state).toBe('live');
    const got = await etcdctl('get', lease.key, '--keys-only');
    expect(got.stdout.trim()).toBe(lease.key);
    expect(seen).toEqual(['fenced', 'renewed']);
  });

  it('reports a lease revoked from outside as lost', async () => {
    const lease = nodeLease('c');
    await lease.start();
    const { deleted } = await deletion(lease.key);
    const fencedP = once(lease, 'fenced');
    const lostP = once(lease, 'lost');
    const revoked = await etcdctl('lease', 'revoke', BigInt(lease.id ?? '').toString(16));
    expect(revoked.code, revoked.stderr).toBe(0);
    await within(deleted, 5_000, 'the node key deleted with the revoked lease');
    // The next keepalive (every TTL/3) learns that the lease is gone.
    const [err] = (await within(lostP, 5_000, 'lost after the revoke')) as [Error];
    expect(err.message).toMatch(/expired or revoked/);
    await fencedP; // fenced comes first, so a consumer needs only one stop signal
    expect(lease.state).toBe('lost');
  });
});
