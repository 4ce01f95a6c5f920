/**
 * NodeLease's own fencing deadline, with fake timers and a fake etcd3 lease: `fenced` exactly at
 * TTL − margin after the send time of the last confirmed keepalive, `renewed`, `lost`, `close`.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NodeLease, type FencedEvent, type LeaseClock, type LeaseLike } from '../../../src/cluster/node-lease.js';

class FakeLease extends EventEmitter implements LeaseLike {
  puts: Array<[string, string]> = [];
  revokes = 0;
  constructor(readonly ttl: number) {
    super();
  }
  grant(): Promise<string> {
    return Promise.resolve('42');
  }
  put(key: string): { value(value: string): { exec(): Promise<void> } } {
    return { value: (value: string) => ({ exec: async () => void this.puts.push([key, value]) }) };
  }
  revoke(): Promise<void> {
    this.revokes++;
    return Promise.resolve();
  }
  /** etcd3 order: keepaliveFired when a keepalive is sent, keepaliveSucceeded when it is answered. */
  fire(): void {
    this.emit('keepaliveFired');
  }
  succeed(): void {
    this.emit('keepaliveSucceeded', { TTL: String(this.ttl) });
  }
}

const clock: LeaseClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

let fake: FakeLease;
let events: string[];
let fences: FencedEvent[];

async function started(opts: { ttlSeconds?: number; marginMs?: number; clock?: LeaseClock } = {}): Promise<NodeLease> {
  const lease = new NodeLease({
    client: { lease: (ttl: number) => (fake = new FakeLease(ttl)) },
    prefix: '/scatter/test',
    nodeId: 'a',
    ttlSeconds: opts.ttlSeconds ?? 2,
    marginMs: opts.marginMs ?? 500,
    clock: opts.clock ?? clock,
  });
  lease.on('fenced', (e) => {
    events.push('fenced');
    fences.push(e);
  });
  lease.on('renewed', () => events.push('renewed'));
  lease.on('lost', (err) => events.push(`lost:${err.message}`));
  await lease.start();
  return lease;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  events = [];
  fences = [];
});
afterEach(() => vi.useRealTimers());

describe('NodeLease', () => {
  it('puts the node key under the lease', async () => {
    const lease = await started();
    expect(lease.key).toBe('/scatter/test/nodes/a');
    expect(lease.id).toBe('42');
    expect(fake.puts).toHaveLength(1);
    expect(fake.puts[0]?.[0]).toBe('/scatter/test/nodes/a');
    expect(JSON.parse(fake.puts[0]?.[1] ?? '')).toMatchObject({ nodeId: 'a' });
  });

  it('fences exactly TTL − margin after the grant was sent when no keepalive is confirmed', async () => {
    const t0 = Date.now();
    const lease = await started();
    vi.advanceTimersByTime(1499);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['fenced']);
    expect(fences[0]).toEqual({ at: t0 + 1500, lastConfirmedAt: t0 });
    expect(lease.state).toBe('fenced');
  });

  it('does not fence early when a timer fires before its time', async () => {
    const t0 = Date.now();
    const early: LeaseClock = { ...clock, setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms - 1)) };
    await started({ clock: early });
    vi.advanceTimersByTime(1499);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fences).toEqual([{ at: t0 + 1500, lastConfirmedAt: t0 }]);
  });

  it('counts from when the confirmed keepalive was sent, not when it was answered', async () => {
    await started();
    vi.advanceTimersByTime(600);
    const sentAt = Date.now();
    fake.fire();
    vi.advanceTimersByTime(300); // a slow answer
    fake.succeed();
    vi.advanceTimersByTime(sentAt + 1499 - Date.now());
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['fenced']);
    expect(fences[0]?.lastConfirmedAt).toBe(sentAt);
  });

  it('keeps a node with healthy keepalives unfenced', async () => {
    await started();
    for (let i = 0; i < 30; i++) {
      vi.advanceTimersByTime(666);
      fake.fire();
      fake.succeed();
    }
    expect(events).toEqual([]);
  });

  it('ignores a keepalive that was sent but never answered', async () => {
    const t0 = Date.now();
    await started();
    vi.advanceTimersByTime(700);
    fake.fire(); // etcd unreachable: no answer
    vi.advanceTimersByTime(800);
    expect(fences).toEqual([{ at: t0 + 1500, lastConfirmedAt: t0 }]);
  });

  it('drops keepalives of a broken stream: a later answer is paired with its own send', async () => {
    await started();
    vi.advanceTimersByTime(400);
    fake.fire(); // lost with its stream
    vi.advanceTimersByTime(400);
    fake.emit('keepaliveEstablished');
    const sentAt = Date.now();
    fake.fire();
    fake.succeed();
    vi.advanceTimersByTime(sentAt + 1500 - Date.now());
    expect(fences.map((f) => f.lastConfirmedAt)).toEqual([sentAt]);
  });

  it('renews after a late success while the lease is still valid, then fences again on time', async () => {
    await started();
    vi.advanceTimersByTime(1000);
    fake.fire();
    vi.advanceTimersByTime(500); // answer delayed past the first deadline
    expect(events).toEqual(['fenced']);
    const sentAt = Date.now() - 500;
    fake.succeed();
    expect(events).toEqual(['fenced', 'renewed']);
    vi.advanceTimersByTime(sentAt + 1499 - Date.now());
    expect(events).toEqual(['fenced', 'renewed']);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['fenced', 'renewed', 'fenced']);
  });

  it('does not renew on a success whose send time is already past the deadline', async () => {
    await started();
    vi.advanceTimersByTime(100);
    fake.fire();
    vi.advanceTimersByTime(1500);
    fake.succeed();
    expect(events).toEqual(['fenced']);
  });

  it('passes lost through, fencing first, and stops its timers', async () => {
    const lease = await started();
    fake.emit('lost', new Error('Lease 42 is expired or revoked'));
    expect(events).toEqual(['fenced', 'lost:Lease 42 is expired or revoked']);
    expect(lease.state).toBe('lost');
    expect(vi.getTimerCount()).toBe(0);
    fake.fire();
    fake.succeed();
    vi.advanceTimersByTime(10_000);
    expect(events).toHaveLength(2);
    await lease.close();
    expect(fake.revokes).toBe(0); // nothing left to revoke
  });

  it('passes lost through once after a fence', async () => {
    await started();
    vi.advanceTimersByTime(1500);
    fake.emit('lost', new Error('gone'));
    fake.emit('lost', new Error('gone again'));
    expect(events).toEqual(['fenced', 'lost:gone']);
  });

  it('closes idempotently: one revoke, no timers, no events afterwards', async () => {
    const lease = await started();
    await Promise.all([lease.close(), lease.close()]);
    await lease.close();
    expect(fake.revokes).toBe(1);
    expect(lease.state).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
    fake.emit('lost', new Error('after close'));
    vi.advanceTimersByTime(10_000);
    expect(events).toEqual([]);
  });

  it('refuses bad options with clear errors', () => {
    const client = { lease: (ttl: number) => new FakeLease(ttl) };
    const make = (o: Partial<ConstructorParameters<typeof NodeLease>[0]>) => () =>
      new NodeLease({ client, prefix: '/p', nodeId: 'a', ttlSeconds: 2, ...o });
    expect(make({ ttlSeconds: 0 })).toThrow(/ttlSeconds must be an integer >= 1/);
    expect(make({ ttlSeconds: 1.5 })).toThrow(/ttlSeconds must be an integer >= 1/);
    expect(make({ nodeId: 'a/b' })).toThrow(/nodeId/);
    expect(make({ prefix: '/p/' })).toThrow(/prefix must not end with/);
    expect(make({ marginMs: 1400 })).toThrow(/marginMs must be >= 0 and leave more than TTL\/3/);
    expect(make({ marginMs: -1 })).toThrow(/marginMs/);
    expect(new NodeLease({ client, prefix: '/p', nodeId: 'a', ttlSeconds: 2 }).marginMs).toBe(500);
    expect(new NodeLease({ client, prefix: '/p', nodeId: 'a', ttlSeconds: 10 }).marginMs).toBe(2500);
  });
});
