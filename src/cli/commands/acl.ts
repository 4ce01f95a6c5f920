/** `scatter acl add|remove|list` — /v1/targets/{iqn}/acls: which initiators may log in and see which LUNs. */
import type { Command } from 'commander';
import { apiPath } from '../api-client.js';
import { act, reportDelete, reportWrite, show } from '../context.js';
import { UsageError } from '../errors.js';
import { table } from '../format.js';
import { addIfMatch, lunArg } from './options.js';
import { authSummary, mappedLuns, type Acl } from './resources.js';

/** `--map 0`, `--map 0:1`, `--map 0:1:ro`, `--map 2:ro`: target LUN, the number the initiator sees, read-only. */
export function parseMapping(spec: string): { lun: number; as?: number; readOnly?: boolean } {
  const parts = spec.split(':');
  const readOnly = parts.at(-1) === 'ro';
  if (readOnly) parts.pop();
  if (parts.length < 1 || parts.length > 2) throw new UsageError(`--map ${spec}: expected LUN[:AS][:ro], e.g. 0, 0:1, 0:1:ro`);
  try {
    const m: { lun: number; as?: number; readOnly?: boolean } = { lun: lunArg(parts[0]!) };
    if (parts[1] !== undefined) m.as = lunArg(parts[1]);
    if (readOnly) m.readOnly = true;
    return m;
  } catch (err) {
    throw new UsageError(`--map ${spec}: LUN ${(err as Error).message}`);
  }
}

export function registerAcl(program: Command): void {
  const acl = program.command('acl').description('initiator ACLs of a target (add, remove, list)');

  addIfMatch(
    acl
      .command('add <iqn> <initiator>')
      .description('allow <initiator> to log in to <iqn> (the first ACL turns ACL mode on); exit 5 if it exists')
      .option('--map <LUN[:AS][:ro]>', 'map a target LUN (optionally as another number, read-only); repeatable; default: all LUNs', (v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
  ).action(
    act(async (ctx, iqn: string, initiator: string, o: { map?: string[]; ifMatch?: string }) => {
      const body: Record<string, unknown> = { initiator };
      if (o.map !== undefined) body.luns = o.map.map(parseMapping);
      const res = await ctx.api.request('PUT', apiPath('targets', iqn, 'acls', initiator), {
        body,
        ...(o.ifMatch !== undefined ? { ifMatch: o.ifMatch } : { ifNoneMatch: '*' }),
      });
      reportWrite(ctx, res, `ACL ${initiator} on ${iqn}`);
    }),
  );

  addIfMatch(acl.command('remove <iqn> <initiator>').alias('rm').description('remove an ACL')).action(
    act(async (ctx, iqn: string, initiator: string, o: { ifMatch?: string }) => {
      await ctx.api.request('DELETE', apiPath('targets', iqn, 'acls', initiator), { ifMatch: o.ifMatch });
      reportDelete(ctx, `ACL ${initiator} on ${iqn}`);
    }),
  );

  acl
    .command('list <iqn>')
    .alias('ls')
    .description('the ACLs of a target with their mapped LUNs')
    .action(
      act(async (ctx, iqn: string) => {
        const list = (await ctx.api.request('GET', apiPath('targets', iqn, 'acls'))).body as Acl[];
        show(ctx, list, () => table(['INITIATOR', 'AUTH', 'MAPPED LUNS'], list.map((a) => [a.initiator, a.auth ? authSummary(a.auth) : 'target', mappedLuns(a)])));
      }),
    );
}
