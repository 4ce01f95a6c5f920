/**
 * Which nodes of the cluster are alive: every node's `nodes/<id>` key, which lives under that
 * node's lease (node-lease.ts), read once and then followed with a watch. Nodes whose key went
 * away are remembered, so that REPORT TARGET PORT GROUPS keeps listing their port group (as
 * Unavailable) instead of letting it vanish from the initiator's view.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { ClusterKeys } from './keys.js';
import { readAndWatch } from './prefix-watch.js';

/** What a node publishes about itself in its `nodes/<id>` key. */
export interface NodeInfo {
  readonly nodeId: string;
  /** Its target port group and relative target port identifier. */
  readonly portGroup: number;
  /** Its iSCSI portals, as `host:port`. */
  readonly portals: readonly string[];
  /** Its admin API, `http://host:port`, when enabled. */
  readonly admin?: string;
  readonly startedAt: string;
}

export interface MembershipEvents {
  change: [];
}

export function parseNodeInfo(text: string): NodeInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<NodeInfo>;
    if (typeof v.nodeId !== 'string' || !Number.isInteger(v.portGroup) || !Array.isArray(v.portals)) return undefined;
    return v as NodeInfo;
  } catch {
    return undefined;
  }
}

export class Membership extends EventEmitter<MembershipEvents> {
  private readonly liveNodes = new Map<string, NodeInfo>();
  private readonly everSeen = new Map<string, NodeInfo>();
  private watcher: Watcher | undefined;

  constructor(
    private readonly opts: { client: Etcd3; keys: ClusterKeys; timeoutMs: number; log: Logger },
  ) {
    super();
  }

  /** Read every node key, then follow changes from the revision read. */
  async start(): Promise<void> {
    const { client, keys, timeoutMs } = this.opts;
    const { kvs, watcher } = await readAndWatch(client, keys.nodes, timeoutMs, 'the cluster nodes');
    for (const kv of kvs) this.put(kv.value.toString());
    this.watcher = watcher;
    this.watcher.on('put', (kv) => {
      this.put(kv.value.toString());
      this.emit('change');
    });
    this.watcher.on('delete', (kv) => {
      const id = kv.key.toString().slice(keys.nodes.length);
      if (this.liveNodes.delete(id)) this.emit('change');
    });
    this.watcher.on('error', (err: Error) => this.opts.log.warn({ err }, 'cluster: node watch failed; etcd3 retries it'));
  }

  private put(text: string): void {
    const info = parseNodeInfo(text);
    if (!info) {
      this.opts.log.warn({ value: text.slice(0, 200) }, 'cluster: ignoring a node key that is not a node description');
      return;
    }
    this.liveNodes.set(info.nodeId, info);
    this.everSeen.set(info.nodeId, info);
  }

  isLive(nodeId: string): boolean {
    return this.liveNodes.has(nodeId);
  }

  live(nodeId: string): NodeInfo | undefined {
    return this.liveNodes.get(nodeId);
  }

  /** Every node seen since start, live or not, by port group. */
  known(): NodeInfo[] {
    return [...this.everSeen.values()].sort((a, b) => a.portGroup - b.portGroup);
  }

  async close(): Promise<void> {
    await this.watcher?.cancel();
    this.watcher = undefined;
  }
}
