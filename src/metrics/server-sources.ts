import type { Mempool } from '../block/mempool.js';
import type { IscsiServer } from '../iscsi/iscsi-server.js';
import { OPEN_ACCESS, aclFor } from '../iscsi/target-access.js';
import type { LunRegistry } from '../runtime/lun-registry.js';
import { clusterSource, type ClusterNodeView } from './cluster-metrics.js';
import { OTHER_INITIATOR, type LunHealthSource, type LunSource, type MetricsSources, type SessionSource, type TargetSource } from './sources.js';

/**
 * Sources over a running server. Each call walks the live registries (`iscsi.targets`, the LUN
 * registry, `iscsi.sessions`), so targets and LUNs added or removed at runtime show up at the
 * next scrape. `cluster` is the node in cluster mode (absent on a single node: no cluster metrics).
 */
export function serverMetricsSources(iscsi: IscsiServer, luns: LunRegistry, pool: Mempool, cluster?: ClusterNodeView): MetricsSources {
  return {
    *targets(): Iterable<TargetSource> {
      for (const t of iscsi.targets.all()) {
        const access = t.access ?? OPEN_ACCESS;
        // A target open to anyone does not consult its ACLs, so no session could be labelled by them.
        const aclInitiators = access.allowAnyInitiator ? [] : access.acls.map((a) => a.initiator);
        yield { iqn: t.iqn, stats: t.scsi.stats, aclInitiators };
      }
    },
    *luns(): Iterable<LunSource> {
      // LUNs whose storage could not be opened have no queue (their state is in lunHealth).
      for (const e of luns.all()) if (e.queue) yield { target: e.target, lun: e.lun, stats: e.queue.stats };
    },
    *lunHealth(): Iterable<LunHealthSource> {
      for (const e of luns.all()) {
        const health = e.unit.device.health;
        if (health) yield { target: e.target, lun: e.lun, state: health.state, errors: health.errors };
      }
    },
    *pools() {
      yield { name: 'bounce', stats: pool.stats };
    },
    *sessions(): Iterable<SessionSource> {
      for (const s of iscsi.sessions.all()) {
        const acl = s.target ? aclFor(s.target.access ?? OPEN_ACCESS, s.outcome.initiatorName) : undefined;
        yield { target: s.target?.iqn ?? '', discovery: s.isDiscovery, initiator: acl?.initiator ?? OTHER_INITIATOR };
      }
    },
    connections: () => iscsi.connectionCount,
    writeBudget: () => iscsi.writeBudget,
    readBudget: () => iscsi.readBudget,
    admission: () => ({ preLogin: iscsi.admission.preLoginCount, evicted: iscsi.admission.evicted }),
    loginFailures: () => iscsi.loginFailures.entries(),
    ...(cluster && { cluster: clusterSource(cluster) }),
  };
}
