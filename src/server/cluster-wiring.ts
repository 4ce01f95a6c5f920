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
import { createEtcdReservationStore, type EtcdReservationStore } from '../cluster/etcd-reservations.js';
import { luSegment } from '../cluster/keys.js';
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
  /** What opening LUs and building targets needs in cluster mode: ALUA, and reservations in etcd. */
  readonly context: Pick<LunOpenContext, 'cluster' | 'reservationStoreFor'>;
  /** The LUs this node serves now: it stands for their ownership; reservation stores of LUs gone are closed. */
  track(registry: LunRegistry): Promise<void>;
  /** Stop the config watch and every reservation store, then leave the cluster (lease revoked). */
  close(): Promise<void>;
}

/** Connect to etcd and take the cluster's shared config (seeding it when this is the first node). */
export async function prepareCluster(cluster: ClusterConfig, local: Config, log: Logger): Promise<ClusterWiring> {
  const node = new ClusterNode({ config: cluster, log });
  try {
    // A plain call first: a watch created against an etcd that is not there never settles.
    await node.checkEtcd();
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
    // One reservation store per LU; a LU opened again (replaced by a config change) gets a new one.
    const stores = new Map<string, EtcdReservationStore>();
    const closeStore = (seg: string): Promise<void> => {
      const old = stores.get(seg);
      stores.delete(seg);
      return old ? old.close().catch((err: unknown) => log.warn({ err, lu: seg }, 'cluster: reservation watch not closed')) : Promise.resolve();
    };
    return {
      node,
      configStore,
      config,
      context: {
        cluster: {
          portGroup: cluster.portGroup,
          aluaFor: (iqn) => node.providerFor(iqn),
          sharingFor: (iqn, lun) => node.sharingFor({ iqn, lun }),
        },
        reservationStoreFor: async (target, lun) => {
          const lu = { iqn: target.iqn, lun: lun.lun };
          await closeStore(luSegment(lu));
          // etcd's outage is an EtcdUnavailableError in the failure's cause chain: the admin plane answers 503.
          const store = await createEtcdReservationStore({ client: node.client, keys: node.keys, lu, nodeId: cluster.nodeId, log, timeoutMs: cluster.etcd.callTimeoutMs });
          stores.set(luSegment(lu), store);
          return store;
        },
      },
      track: async (registry) => {
        const served = servedLus(registry);
        const live = new Set([...registry.all()].map((e) => luSegment({ iqn: e.target, lun: e.lun })));
        await Promise.all([...stores.keys()].filter((seg) => !live.has(seg)).map(closeStore));
        await node.track(served);
      },
      close: async () => {
        await configStore.close().catch((err: unknown) => log.warn({ err }, 'cluster: config watch not closed'));
        await Promise.all([...stores.keys()].map(closeStore));
        await node.close();
      },
    };
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
