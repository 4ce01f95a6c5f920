import type { BlockQueue } from '../block/queue.js';
import type { Mempool } from '../block/mempool.js';
import type { IscsiServer } from '../iscsi/iscsi-server.js';
import type { LunHealthSource, LunSource, MetricsSources, SessionSource, TargetSource } from './sources.js';

/**
 * Sources over a running server. Each call walks the live registries
 * (`iscsi.targets`, the `queues` map keyed "iqn/lun", `iscsi.sessions`), so
 * targets and LUNs added or removed at runtime show up at the next scrape.
 */
export function serverMetricsSources(iscsi: IscsiServer, queues: ReadonlyMap<string, BlockQueue>, pool: Mempool): MetricsSources {
  return {
    *targets(): Iterable<TargetSource> {
      for (const t of iscsi.targets.all()) yield { iqn: t.iqn, stats: t.scsi.stats };
    },
    *luns(): Iterable<LunSource> {
      for (const [key, queue] of queues) {
        // An IQN never contains '/', so the last one separates the LUN number.
        const cut = key.lastIndexOf('/');
        yield { target: key.slice(0, cut), lun: Number(key.slice(cut + 1)), stats: queue.stats };
      }
    },
    *lunHealth(): Iterable<LunHealthSource> {
      for (const t of iscsi.targets.all()) {
        for (const lun of t.scsi.lunNumbers) {
          const health = t.scsi.getLogicalUnit(lun)?.device.health;
          if (health) yield { target: t.iqn, lun, state: health.state, errors: health.errors };
        }
      }
    },
    *pools() {
      yield { name: 'bounce', stats: pool.stats };
    },
    *sessions(): Iterable<SessionSource> {
      for (const s of iscsi.sessions.all()) yield { target: s.target?.iqn ?? '', discovery: s.isDiscovery };
    },
    connections: () => iscsi.connectionCount,
    writeBudget: () => iscsi.writeBudget,
    readBudget: () => iscsi.readBudget,
    admission: () => ({ preLogin: iscsi.admission.preLoginCount, evicted: iscsi.admission.evicted }),
    loginFailures: () => iscsi.loginFailures.entries(),
  };
}
