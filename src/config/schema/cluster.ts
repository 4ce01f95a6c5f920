/**
 * Cluster mode (docs/cluster.md): present only when the config has a `cluster:` section. Without
 * it Scatter is a single node and never talks to etcd.
 */
import { z } from 'zod';
import { integer } from './fields.js';

/** Cluster and node names become etcd key segments: no '/', nothing exotic. */
const NameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit');

const EndpointSchema = z
  .string()
  .regex(/^https?:\/\/[^/\s]+\/?$/, 'must be an etcd client URL like http://127.0.0.1:2379');

export const ClusterSchema = z.strictObject({
  /** Keys live under /scatter/<name>/ in etcd: several clusters may share one etcd. */
  name: NameSchema,
  /** This node's id, unique in the cluster. */
  nodeId: NameSchema,
  /**
   * This node's target port group (and relative target port identifier), unique in the cluster:
   * what VPD 83h and REPORT TARGET PORT GROUPS report for paths through this node.
   */
  portGroup: integer(1, 65535),
  etcd: z.strictObject({
    endpoints: z.array(EndpointSchema).min(1, 'must list at least one etcd endpoint'),
    /** How long one etcd call may take before it counts as failed. */
    callTimeoutMs: integer(100, 60_000).default(2000),
  }),
  /**
   * The node's etcd lease. It fences itself (stops serving what it owns) before the TTL can run
   * out, and another node takes over after it has: failover takes about TTL + grace.
   */
  leaseTtlSeconds: integer(1, 60).default(3),
  /**
   * How long a new owner waits, after the old owner's lease is gone, before it serves as
   * Active/Optimized (covers clock rate differences and writes the old owner had under way).
   * Default: the lease's fencing margin, max(500 ms, TTL / 4).
   */
  graceMs: integer(0, 60_000).optional(),
  /** The access state of paths through a node that does not own the LU. */
  nonOwnerState: z.enum(['standby', 'active-non-optimized']).default('standby'),
});

export type ClusterConfig = z.output<typeof ClusterSchema>;

/** The lease margin NodeLease uses by default, and hence the default grace. */
export function defaultMarginMs(ttlSeconds: number): number {
  return Math.max(500, (ttlSeconds * 1000) / 4);
}
