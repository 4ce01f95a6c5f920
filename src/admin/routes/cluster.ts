/**
 * Cluster mode (docs/cluster.md): GET /v1/cluster (nodes, leases, owners, ALUA states, etcd) and
 * POST /v1/cluster/drain (a planned move of one LU's ownership). A single node answers 404.
 */
import { z } from 'zod';
import type { AdminDeps, AdminRoutes } from '../app.js';
import { ApiProblem, problemResponses } from '../problem.js';

const AccessStateNameSchema = z.enum(['active/optimized', 'active/non-optimized', 'standby', 'unavailable', 'transitioning']);

export const ClusterStatusSchema = z
  .object({
    cluster: z.string(),
    nodeId: z.string(),
    portGroup: z.number().int(),
    lease: z.object({ state: z.enum(['new', 'live', 'fenced', 'lost', 'closed']), ttlSeconds: z.number().int(), id: z.string().optional() }),
    etcd: z.object({ endpoints: z.array(z.string()), reachable: z.boolean(), version: z.string().optional(), error: z.string().optional() }),
    configRevision: z.number().int().describe("mod revision of the cluster config key this node last read or wrote"),
    nodes: z.array(
      z.object({ nodeId: z.string(), portGroup: z.number().int(), portals: z.array(z.string()), admin: z.string().optional(), live: z.boolean(), startedAt: z.string() }),
    ),
    lus: z.array(
      z.object({
        target: z.string(),
        lun: z.number().int(),
        owner: z.string().nullable().describe('node id; null while no node owns it'),
        phase: z.enum(['follower', 'acquiring', 'owner', 'draining']).describe("this node's relation to the LU"),
        accessState: AccessStateNameSchema.describe("this node's ALUA state for the LU"),
        ownerChanges: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'ClusterStatus' });

export type ClusterStatusView = z.input<typeof ClusterStatusSchema>;

/** What the server hands the admin plane in cluster mode (src/server/cluster-wiring.ts). */
export interface ClusterAdmin {
  status(): Promise<ClusterStatusView>;
  /** For /healthz: cheap, no etcd call. */
  health(): { nodeId: string; lease: string };
  /** Throws ApiProblem for what the operator can fix (unknown LU, not the owner, etcd away). */
  drain(target: string, lun: number, to: string): Promise<{ from: string; to: string; ms: number }>;
}

function clusterOf(deps: AdminDeps): ClusterAdmin {
  if (!deps.cluster) throw new ApiProblem('not-found', 'this node is not in cluster mode (no cluster: section in its config)');
  return deps.cluster;
}

export const clusterRoutes: AdminRoutes = (app, deps) => {
  app.get(
    '/cluster',
    {
      schema: {
        tags: ['cluster'],
        summary: 'Cluster nodes, leases, LU owners and ALUA states as this node sees them',
        response: { 200: ClusterStatusSchema, ...problemResponses(404) },
      },
    },
    () => clusterOf(deps).status(),
  );
  app.post(
    '/cluster/drain',
    {
      schema: {
        tags: ['cluster'],
        summary: "Move an LU's ownership to another node (planned; no I/O error, commands wait a moment)",
        description: 'Send it to the node that owns the LU (GET /v1/cluster names it).',
        body: z.strictObject({ target: z.string().min(1).max(223), lun: z.number().int().min(0).max(16383), to: z.string().min(1).max(63) }),
        response: { 200: z.object({ target: z.string(), lun: z.number().int(), from: z.string(), to: z.string(), ms: z.number() }), ...problemResponses(404, 409, 503) },
      },
    },
    async (req) => {
      const { target, lun, to } = req.body;
      const moved = await clusterOf(deps).drain(target, lun, to);
      deps.log.info({ target, lun, ...moved }, 'admin API: LU ownership moved');
      return { target, lun, ...moved };
    },
  );
};
