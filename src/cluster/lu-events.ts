/**
 * LU-wide events between the nodes (scsi/lu-sharing.ts; docs/cluster.md, "Events"): a node that
 * resets an LU or changes its mode parameters puts the event at `events/<iqn>/<lun>/last`; every
 * other node applies it and answers at `events/<iqn>/<lun>/ack/<node>` with the event's id. The
 * publisher waits for the answers of the nodes that were live when it published, so the reset
 * or MODE SELECT completes only once every node has acted on it. A node that does not answer
 * within the timeout is logged (it is likely fencing itself) and not waited for further.
 */
import { randomUUID } from 'node:crypto';
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { SharedLuEvent } from '../scsi/lu-sharing.js';
import { withTimeout } from './etcd-timeout.js';
import { luSegment, parseLuSegment, type ClusterKeys, type LuName } from './keys.js';
import { LogEvent } from '../shared/log-events.js';

interface Published {
  readonly id: string;
  readonly from: string;
  readonly event: SharedLuEvent;
}

interface Waiter {
  readonly pending: Set<string>;
  readonly done: () => void;
}

export interface LuEventsOptions {
  readonly client: Etcd3;
  readonly keys: ClusterKeys;
  readonly nodeId: string;
  readonly timeoutMs: number;
  readonly log: Logger;
  /** The other nodes that must answer (live now). */
  liveOthers(): string[];
  /** Apply another node's event to this node's copy of the LU. */
  apply(lu: LuName, event: SharedLuEvent): Promise<void>;
}

function parsePublished(text: string): Published | undefined {
  try {
    const v = JSON.parse(text) as Partial<Published>;
    return typeof v.id === 'string' && typeof v.from === 'string' && typeof v.event === 'object' ? (v as Published) : undefined;
  } catch {
    return undefined;
  }
}

export class LuEvents {
  private watcher: Watcher | undefined;
  private readonly waiters = new Map<string, Waiter>();
  private readonly root: string;

  constructor(private readonly opts: LuEventsOptions) {
    this.root = `${opts.keys.prefix}/events/`;
  }

  async start(): Promise<void> {
    const { client, timeoutMs } = this.opts;
    // Only what happens from now on: a node that starts reads the LU's state fresh anyway.
    this.watcher = await withTimeout(client.watch().prefix(this.root).create(), timeoutMs, 'etcd: watching LU events');
    this.watcher.on('put', (kv) => this.onPut(kv.key.toString(), kv.value.toString()));
    this.watcher.on('error', (err: Error) => this.opts.log.warn({ err }, 'cluster: LU event watch failed; etcd3 retries it'));
  }

  /** Publish `event` for `lu` and wait for every other live node's answer (bounded by the timeout). */
  async publish(lu: LuName, event: SharedLuEvent): Promise<void> {
    const { client, nodeId, timeoutMs, log } = this.opts;
    const others = this.opts.liveOthers();
    const id = randomUUID();
    const answered = new Promise<void>((resolve) => {
      if (others.length === 0) resolve();
      else this.waiters.set(id, { pending: new Set(others), done: resolve });
    });
    try {
      const published: Published = { id, from: nodeId, event };
      await withTimeout(client.put(`${this.root}${luSegment(lu)}/last`).value(JSON.stringify(published)).exec(), timeoutMs, `etcd: publishing a ${event.kind} of ${luSegment(lu)}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
      const outcome = await Promise.race([answered, late]).finally(() => clearTimeout(timer));
      if (outcome === 'late') {
        log.warn({ event: LogEvent.clusterEventUnanswered, lu: luSegment(lu), kind: event.kind, nodes: [...(this.waiters.get(id)?.pending ?? [])] }, 'cluster: nodes did not confirm an LU event in time');
      }
    } finally {
      this.waiters.delete(id);
    }
  }

  private onPut(key: string, value: string): void {
    const rest = key.slice(this.root.length);
    const ack = /^(.*)\/ack\/([^/]+)$/.exec(rest);
    if (ack) {
      const waiter = this.waiters.get(value);
      waiter?.pending.delete(ack[2]!);
      if (waiter && waiter.pending.size === 0) waiter.done();
      return;
    }
    if (!rest.endsWith('/last')) return;
    const lu = parseLuSegment(rest.slice(0, -'/last'.length));
    const published = parsePublished(value);
    if (!lu || !published || published.from === this.opts.nodeId) return;
    void this.applyAndAnswer(lu, published);
  }

  private async applyAndAnswer(lu: LuName, p: Published): Promise<void> {
    const { client, nodeId, timeoutMs, log } = this.opts;
    try {
      await this.opts.apply(lu, p.event);
      await withTimeout(client.put(`${this.root}${luSegment(lu)}/ack/${nodeId}`).value(p.id).exec(), timeoutMs, 'etcd: answering an LU event');
    } catch (err) {
      log.error({ err, lu: luSegment(lu), kind: p.event.kind, from: p.from }, 'cluster: an LU event from another node was not applied');
    }
  }

  async close(): Promise<void> {
    await this.watcher?.cancel();
    this.watcher = undefined;
    for (const w of this.waiters.values()) w.done();
    this.waiters.clear();
  }
}
