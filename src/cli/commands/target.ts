/** `scatter target create|list|show|set|delete` — /v1/targets. */
import type { Command } from 'commander';
import { apiPath } from '../api-client.js';
import { UsageError } from '../errors.js';
import { act, reportDelete, reportWrite, show, type Ctx } from '../context.js';
import { fields, table } from '../format.js';
import { addIfMatch } from './options.js';
import { authSummary, backstoreSummary, mappedLuns, type Target } from './resources.js';

interface WriteOpts {
  alias?: string;
  allowAny?: boolean;
  ifMatch?: string;
}

function targetBody(o: WriteOpts): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (o.alias !== undefined) body.alias = o.alias;
  if (o.allowAny !== undefined) body.allowAnyInitiator = o.allowAny;
  return body;
}

export function registerTarget(program: Command): void {
  const target = program.command('target').description('iSCSI targets (create, list, show, set, delete)');

  addIfMatch(
    target
      .command('create <iqn>')
      .description('create a target with no LUNs (fails with exit 5 if it exists)')
      .option('--alias <alias>', 'TargetAlias sent at login')
      .option('--allow-any', 'let every initiator log in while the target has no ACLs')
      .option('--no-allow-any', 'let no initiator log in until an ACL is added'),
  ).action(
    act(async (ctx, iqn: string, o: WriteOpts) => {
      // Create only: a PUT on an existing target would reset its auth and alias.
      const res = await ctx.api.request('PUT', apiPath('targets', iqn), {
        body: targetBody(o),
        ...(o.ifMatch !== undefined ? { ifMatch: o.ifMatch } : { ifNoneMatch: '*' }),
      });
      reportWrite(ctx, res, `target ${iqn}`);
    }),
  );

  addIfMatch(
    target
      .command('set <iqn>')
      .description('change a target\'s alias or initiator policy (JSON merge patch)')
      .option('--alias <alias>', 'TargetAlias sent at login')
      .option('--allow-any', 'let every initiator log in while the target has no ACLs')
      .option('--no-allow-any', 'only initiators with an ACL'),
  ).action(
    act(async (ctx, iqn: string, o: WriteOpts) => {
      const body = targetBody(o);
      if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --alias or --allow-any / --no-allow-any');
      const res = await ctx.api.request('PATCH', apiPath('targets', iqn), { body, mergePatch: true, ifMatch: o.ifMatch });
      reportWrite(ctx, res, `target ${iqn}`);
    }),
  );

  target
    .command('list')
    .alias('ls')
    .description('all targets')
    .action(
      act(async (ctx) => {
        const list = (await ctx.api.request('GET', apiPath('targets'))).body as Target[];
        show(ctx, list, () =>
          table(
            ['IQN', 'ALIAS', 'AUTH', 'INITIATORS', 'LUNS', 'ACLS'],
            list.map((t) => [t.iqn, t.alias, authSummary(t.auth), t.allowAnyInitiator ? 'any' : 'acl', t.luns?.length ?? 0, t.acls?.length ?? 0]),
          ),
        );
      }),
    );

  target
    .command('show <iqn>')
    .description('one target with its LUNs and ACLs')
    .action(act(async (ctx, iqn: string) => showTarget(ctx, iqn)));

  addIfMatch(
    target
      .command('delete <iqn>')
      .description('delete a target (exit 4 while sessions are logged in, unless --force)')
      .option('--force', 'log its sessions out first'),
  ).action(
    act(async (ctx, iqn: string, o: { force?: boolean; ifMatch?: string }) => {
      await ctx.api.request('DELETE', apiPath('targets', iqn), { query: { force: o.force ? 'true' : undefined }, ifMatch: o.ifMatch });
      reportDelete(ctx, `target ${iqn}`);
    }),
  );
}

async function showTarget(ctx: Ctx, iqn: string): Promise<void> {
  const res = await ctx.api.request('GET', apiPath('targets', iqn));
  const t = res.body as Target;
  show(ctx, t, () => {
    let text = fields([
      ['iqn', t.iqn],
      ['alias', t.alias],
      ['auth', authSummary(t.auth)],
      ['initiators', t.allowAnyInitiator ? 'any' : 'ACL only'],
      ['etag', res.etag],
    ]);
    text += `\nLUNs:\n`;
    text += (t.luns ?? []).length === 0 ? '  (none)\n' : indent(table(['LUN', 'BACKSTORE', 'TYPE', 'SIZE', 'PATH', 'MODE'], (t.luns ?? []).map((l) => {
      const b = backstoreSummary(l.backstore);
      return [l.lun, b.name, b.type, b.size, b.path, l.readOnly ? 'ro' : 'rw'];
    })));
    text += `\nACLs:\n`;
    text += (t.acls ?? []).length === 0 ? '  (none)\n' : indent(table(['INITIATOR', 'AUTH', 'MAPPED LUNS'], (t.acls ?? []).map((a) => [a.initiator, a.auth ? authSummary(a.auth) : 'target', mappedLuns(a)])));
    return text;
  });
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ');
}
