/** `scatter portal add|remove|list` — /v1/portals: the addresses the iSCSI target listens on. */
import type { Command } from 'commander';
import { apiPath } from '../api-client.js';
import { act, reportDelete, reportWrite, show } from '../context.js';
import { UsageError } from '../errors.js';
import { table } from '../format.js';
import { intArg } from './options.js';
import { portalText, type Portal } from './resources.js';

const portArg = intArg(1, 65535);

/** `0.0.0.0:3260`, `[::1]:3260`, `10.0.0.1` (port 3260), `::` (a bare IPv6 address, port 3260). */
export function parsePortal(text: string): Portal {
  let host: string;
  let port = '3260';
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    if (v6[2] !== undefined) port = v6[2];
  } else if ((text.match(/:/g) ?? []).length > 1) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    if (i >= 0) port = text.slice(i + 1);
  }
  if (host === '') throw new UsageError(`portal ${JSON.stringify(text)}: no host (expected HOST[:PORT] or [IPv6][:PORT])`);
  try {
    return { host, port: portArg(port) };
  } catch (err) {
    throw new UsageError(`portal ${JSON.stringify(text)}: port ${(err as Error).message}`);
  }
}

export function registerPortal(program: Command): void {
  const portal = program.command('portal').description('iSCSI portals, the addresses the target listens on (add, remove, list)');

  portal
    .command('add <portal>')
    .description('listen on HOST[:PORT] (port 3260 by default; IPv6 as [::1]:3260)')
    .action(
      act(async (ctx, text: string) => {
        const p = parsePortal(text);
        const res = await ctx.api.request('PUT', apiPath('portals', portalText(p)), { body: p });
        reportWrite(ctx, res, `portal ${portalText(p)}`);
      }),
    );

  portal
    .command('remove <portal>')
    .alias('rm')
    .description('stop listening on HOST[:PORT]')
    .action(
      act(async (ctx, text: string) => {
        const p = parsePortal(text);
        await ctx.api.request('DELETE', apiPath('portals', portalText(p)));
        reportDelete(ctx, `portal ${portalText(p)}`);
      }),
    );

  portal
    .command('list')
    .alias('ls')
    .description('the portals')
    .action(
      act(async (ctx) => {
        const list = (await ctx.api.request('GET', apiPath('portals'))).body as Portal[];
        show(ctx, list, () => table(['HOST', 'PORT'], list.map((p) => [p.host, p.port])));
      }),
    );
}
