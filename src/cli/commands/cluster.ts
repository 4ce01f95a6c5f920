/** `scatter cluster status|drain` — /v1/cluster (cluster mode, docs/cluster.md). */
import type { Command } from 'commander';
import { ApiError, apiPath, type Problem } from '../api-client.js';
import { act, show, type Ctx } from '../context.js';
import { fields, table } from '../format.js';
import { parseLun } from './options.js';

/** GET /v1/cluster as the CLI reads it (src/admin/routes/cluster.ts ClusterStatusSchema). */
export interface ClusterStatus {
  cluster: string;
  nodeId: string;
  portGroup: number;
  lease: { state: string; ttlSeconds: number; id?: string };
  etcd: { endpoints: string[]; reachable: boolean; version?: string; error?: string };
  configRevision: number;
  nodes: { nodeId: string; portGroup: number; portals: string[]; admin?: string; live: boolean; startedAt: string }[];
  lus: { target: string; lun: number; owner: string | null; phase: string; accessState: string; ownerChanges: number }[];
}

interface Drained {
  target: string;
  lun: number;
  from: string;
  to: string;
  ms: number;
}

/** A single node answers 404 for /v1/cluster: say so plainly (exit 3 still). */
function notClustered(err: unknown, ctx: Ctx): never {
  if (err instanceof ApiError && err.status === 404 && /cluster mode/i.test(err.problem.detail ?? '')) {
    throw new ApiError(404, {
      ...err.problem,
      title: 'Not in cluster mode',
      detail: `the node at ${ctx.api.baseUrl} runs single-node (no cluster: section in its config); scatter cluster needs a cluster node`,
    });
  }
  throw err;
}

async function getStatus(ctx: Ctx): Promise<ClusterStatus> {
  try {
    return (await ctx.api.request('GET', apiPath('cluster'))).body as ClusterStatus;
  } catch (err) {
    notClustered(err, ctx);
  }
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ');
}

export function formatStatus(s: ClusterStatus): string {
  const etcd = s.etcd.reachable
    ? `reachable, version ${s.etcd.version ?? '?'} (${s.etcd.endpoints.join(', ')})`
    : `UNREACHABLE (${s.etcd.endpoints.join(', ')}): ${s.etcd.error ?? 'no answer'}`;
  let text = fields([
    ['cluster', s.cluster],
    ['this node', `${s.nodeId} (port group ${s.portGroup})`],
    ['lease', `${s.lease.state}, TTL ${s.lease.ttlSeconds}s${s.lease.id !== undefined ? `, id ${s.lease.id}` : ''}`],
    ['etcd', etcd],
    ['config revision', s.configRevision],
  ]);
  text += '\nNodes:\n';
  text +=
    s.nodes.length === 0
      ? '  (none)\n'
      : indent(
          table(
            ['NODE', 'PORT GROUP', 'PORTALS', 'LIVE'],
            s.nodes.map((n) => [n.nodeId === s.nodeId ? `${n.nodeId} (this node)` : n.nodeId, n.portGroup, n.portals.join(','), n.live ? 'yes' : 'no']),
          ),
        );
  text += '\nLUs:\n';
  text +=
    s.lus.length === 0
      ? '  (none)\n'
      : indent(
          table(
            ['TARGET', 'LUN', 'OWNER', 'PHASE', 'ALUA', 'OWNER CHANGES'],
            s.lus.map((l) => [l.target, l.lun, l.owner ?? '(none)', l.phase, l.accessState, l.ownerChanges]),
          ),
        );
  return text;
}

/** A 409 for a node that does not own the LU: add where its owner's admin API is, when the cluster knows. */
async function withOwnerHint(ctx: Ctx, err: ApiError, target: string, lun: number): Promise<ApiError> {
  try {
    const s = (await ctx.api.request('GET', apiPath('cluster'))).body as ClusterStatus;
    const owner = s.lus.find((l) => l.target.toLowerCase() === target.toLowerCase() && l.lun === lun)?.owner;
    const admin = s.nodes.find((n) => n.nodeId === owner)?.admin;
    // Only for "owned by node X": other conflicts (drain to itself, to a node not live) name no owner.
    if (owner === null || owner === undefined || admin === undefined || owner === s.nodeId || !(err.problem.detail ?? '').includes(`node ${owner}`)) return err;
    const p: Problem = { ...err.problem, detail: `${err.problem.detail ?? err.problem.title ?? 'conflict'}\n  node ${owner}'s admin API: --url ${admin}` };
    return new ApiError(err.status, p);
  } catch {
    return err;
  }
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('cluster mode: nodes, leases, LU owners and ALUA states (status), planned moves (drain)');

  cluster
    .command('status')
    .description("the cluster as this node sees it: nodes, this node's lease, etcd, and per LU its owner and this node's ALUA state")
    .action(
      act(async (ctx) => {
        const s = await getStatus(ctx);
        show(ctx, s, () => formatStatus(s));
      }),
    );

  cluster
    .command('drain <target> <lun>')
    .description('move the LU to another node (ask its owner; no I/O error, commands wait a moment)')
    .requiredOption('--to <node>', 'the node id to hand it to')
    .action(
      act(async (ctx, target: string, lunText: string, o: { to: string }) => {
        const lun = parseLun(lunText);
        let res;
        try {
          res = await ctx.api.request('POST', apiPath('cluster', 'drain'), { body: { target, lun, to: o.to } });
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) throw await withOwnerHint(ctx, err, target, lun);
          notClustered(err, ctx);
        }
        const d = res.body as Drained;
        show(ctx, d, () => `moved ${d.target} LUN ${d.lun} from ${d.from} to ${d.to} in ${d.ms} ms\n`);
      }),
    );
}
