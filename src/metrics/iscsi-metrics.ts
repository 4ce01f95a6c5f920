import type { Registry } from 'prom-client';
import { liveCounter, liveGauge, type Sample } from './live.js';
import { OTHER_INITIATOR, type MetricsSources } from './sources.js';

/** Sessions per target (every configured target appears, with 0 when idle) and portal connections. */
export function registerIscsiMetrics(registry: Registry, src: MetricsSources): void {
  liveGauge(registry, {
    name: 'scatter_iscsi_sessions',
    help: 'iSCSI sessions in full feature phase, by target and type (normal, discovery; discovery has target "").',
    labelNames: ['target', 'type'],
    read: () => {
      const counts = new Map<string, number>();
      for (const t of src.targets()) counts.set(t.iqn, 0);
      let discovery = 0;
      for (const s of src.sessions()) {
        if (s.discovery) discovery++;
        else counts.set(s.target, (counts.get(s.target) ?? 0) + 1);
      }
      const out: Sample[] = [...counts].map(([target, n]): Sample => [{ target, type: 'normal' }, n]);
      out.push([{ target: '', type: 'discovery' }, discovery]);
      return out;
    },
  });
  liveGauge(registry, {
    name: 'scatter_iscsi_initiator_sessions',
    help: 'Normal iSCSI sessions by target and initiator: the initiator name when it is an ACL entry of the target, "other" otherwise (bounded by the configured ACLs).',
    labelNames: ['target', 'initiator'],
    read: () => {
      // Every ACL entry and "other" of every target, with 0 when idle, so a drop to zero is a sample, not a gap.
      const counts = new Map<string, Map<string, number>>();
      for (const t of src.targets()) counts.set(t.iqn, new Map([...(t.aclInitiators ?? []), OTHER_INITIATOR].map((i) => [i, 0])));
      for (const s of src.sessions()) {
        if (s.discovery) continue;
        const perInitiator = counts.get(s.target);
        // A session of a target removed since it logged in: the target's series are gone with it.
        if (!perInitiator) continue;
        const initiator = s.initiator ?? OTHER_INITIATOR;
        perInitiator.set(initiator, (perInitiator.get(initiator) ?? 0) + 1);
      }
      return [...counts].flatMap(([target, m]) => [...m].map(([initiator, n]): Sample => [{ target, initiator }, n]));
    },
  });
  liveGauge(registry, {
    name: 'scatter_iscsi_connections',
    help: 'TCP connections open on the iSCSI portals, logins in progress included.',
    labelNames: [],
    read: () => [[{}, src.connections()]],
  });
  liveGauge(registry, {
    name: 'scatter_iscsi_buffered_write_bytes',
    help: 'Write data (immediate, unsolicited and solicited Data-Out) held or reserved for commands across all sessions (iscsi.maxBufferedWriteBytes bounds it).',
    labelNames: [],
    read: () => [[{}, src.writeBudget().inUse]],
  });
  liveGauge(registry, {
    name: 'scatter_iscsi_buffered_write_limit_bytes',
    help: 'iscsi.maxBufferedWriteBytes: buffered write data past which further R2Ts wait.',
    labelNames: [],
    read: () => [[{}, src.writeBudget().limit]],
  });
  liveGauge(registry, {
    name: 'scatter_iscsi_buffered_read_bytes',
    help: 'Data-In reserved by commands being read or waiting for the initiator to take it (iscsi.maxBufferedReadBytes bounds it).',
    labelNames: [],
    read: () => [[{}, src.readBudget().inUse]],
  });
  liveGauge(registry, {
    name: 'scatter_iscsi_read_budget_waiting_commands',
    help: 'Commands waiting for Data-In budget (their connection holds its share, or the target the whole budget).',
    labelNames: [],
    read: () => [[{}, src.readBudget().waiting]],
  });
  liveGauge(registry, {
    name: 'scatter_iscsi_prelogin_connections',
    help: 'Portal connections that have not completed login (iscsi.maxPreLoginConnections bounds them).',
    labelNames: [],
    read: () => [[{}, src.admission().preLogin]],
  });
  liveCounter(registry, {
    name: 'scatter_iscsi_prelogin_evictions_total',
    help: 'Pre-login connections dropped to admit a newcomer (a crowd of idle connections, or a login that stalls).',
    labelNames: [],
    read: () => [[{}, src.admission().evicted]],
  });
  liveGauge(registry, {
    name: 'scatter_iscsi_write_budget_waiting_commands',
    help: 'Write commands waiting for buffered-write budget before their first R2T.',
    labelNames: [],
    read: () => [[{}, src.writeBudget().waiting]],
  });
  liveCounter(registry, {
    name: 'scatter_iscsi_login_failures_total',
    help: 'Logins refused, by reason (chap_wrong_secret, chap_locked_out, target_not_found, initiator_error, ...).',
    labelNames: ['reason'],
    read: () => [...(src.loginFailures?.() ?? [])].map(([reason, n]): Sample => [{ reason }, n]),
  });
}
