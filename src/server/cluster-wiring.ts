/**
 * Cluster mode's part of start-up (docs/cluster.md): the node, its shared config in etcd, the
 * ALUA providers and (once the LUs exist) the LUs it stands for ownership of. Single-node mode
 * never reaches this file.
 */
import type { Logger } from 'pino';
import { ApiProblem } from '../admin/problem.js';
import type { ClusterAdmin } from '../admin/routes/cluster.js';
import { ClusterNode, ACCESS_STATE_NAMES } from '../cluster/cluster-node.js';
import { EtcdConfigStore } from '../cluster/config-store.js';
import { EtcdUnavailableError } from '../cluster/etcd-timeout.js';
import { DrainError, NotOwnerError } from '../cluster/ownership.js';
import type { ClusterConfig, Config } from '../config/schema.js';
import type { IscsiServer } from '../iscsi/iscsi-server.js';
import type { LunRegistry } from '../runtime/lun-registry.js';
import type { LunOpenContext } from '../runtime/open-lun.js';

export interface ClusterWiring {
  readonly node: ClusterNode;
  readonly configStore: EtcdConfigStore;
  /** The config to serve: the node's file with the cluster's shared part. */
  readonly config: Config;
  /** What opening LUs and building targets needs in cluster mode. */
  readonly context: Pick<LunOpenContext, 'cluster'>;
}

/** Connect to etcd and take the cluster's shared config (seeding it when this is the first node). */
export async function prepareCluster(cluster: ClusterConfig, local: Config, log: Logger): Promise<ClusterWiring> {
  const node = new ClusterNode({ config: cluster, log });
  try {
    const configStore = await EtcdConfigStore.open({
      client: node.client,
      keys: node.keys,
      nodeId: cluster.nodeId,
      timeoutMs: cluster.etcd.callTimeoutMs,
      endpoints: cluster.etcd.endpoints,
      log,
    });
    const config = await configStore.seedOrLoad(local).catch(async (err: unknown) => {
      await configStore.close();
      throw err;
    });
    return { node, configStore, config, context: { cluster: { portGroup: cluster.portGroup, aluaFor: (iqn) => node.providerFor(iqn) } } };
  } catch (err) {
    await node.close().catch(() => undefined);
    throw err;
  }
}

/** The LUs this node can serve (storage opened): it stands for ownership of exactly these. */
export function servedLus(registry: LunRegistry): { iqn: string; lun: number }[] {
  return [...registry.all()].filter((e) => e.queue !== undefined).map((e) => ({ iqn: e.target, lun: e.lun }));
}

/** The admin plane's view of the cluster: status, health and drains with their errors as problems. */
export function clusterAdmin(wiring: ClusterWiring, iscsi: IscsiServer, registry: LunRegistry): ClusterAdmin {
  const { node, configStore } = wiring;
  return {
    health: () => ({ nodeId: node.config.nodeId, lease: node.leaseState }),
    status: async () => {
      const s = await node.status();
      return {
        ...s,
        lease: { state: s.lease.state, ttlSeconds: s.lease.ttlSeconds, ...(s.lease.id !== undefined && { id: s.lease.id }) },
        etcd: { ...s.etcd, endpoints: [...s.etcd.endpoints] },
        configRevision: configStore.revision,
        nodes: s.nodes.map((n) => ({ ...n, portals: [...n.portals] })),
        lus: s.lus.map((l) => ({ ...l, owner: l.owner ?? null, accessState: ACCESS_STATE_NAMES[l.accessState] })),
      };
    },
    drain: async (target, lun, to) => {
      const entry = registry.get(target, lun);
      const core = iscsi.targets.get(target)?.scsi;
      if (!entry || !core) throw new ApiProblem('not-found', `no LUN ${lun} of target ${target} on this node`);
      const started = performance.now();
      const quiesce = async (): Promise<void> => {
        await core.quiesce(lun);
        await entry.queue?.flush();
      };
      try {
        await node.drain({ iqn: entry.target, lun }, to, quiesce);
      } catch (err) {
        if (err instanceof NotOwnerError) throw new ApiProblem('conflict', err.message, { cause: err });
        if (err instanceof DrainError) throw new ApiProblem('conflict', err.message, { cause: err });
        if (err instanceof EtcdUnavailableError) throw new ApiProblem('cluster-unavailable', `${err.message}; the LU stays with this node`, { cause: err });
        throw err;
      }
      return { from: node.config.nodeId, to, ms: Math.round(performance.now() - started) };
    },
  };
}
