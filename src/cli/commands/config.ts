/** `scatter config show|apply|backups` — the whole configuration at once (/v1/config). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { apiPath } from '../api-client.js';
import { act, reportWrite, show } from '../context.js';
import { UsageError } from '../errors.js';
import { formatChange, humanSize, serialise, table, type ChangeSummary } from '../format.js';
import { addIfMatch } from './options.js';

interface ConfigAnswer {
  revision?: string | number;
  config?: unknown;
  pendingRestart?: string[];
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parse(text) as unknown; // YAML, and so JSON too
  } catch (err) {
    throw new UsageError(`${file} is not YAML or JSON: ${(err as Error).message}`);
  }
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('the whole configuration (show, apply, backups)');

  config
    .command('show')
    .description('the running configuration in file form (secrets redacted) as YAML, with its revision')
    .action(
      act(async (ctx) => {
        const body = (await ctx.api.request('GET', apiPath('config'))).body as ConfigAnswer;
        show(ctx, body, () => {
          let head = `# revision ${body.revision ?? '-'}\n`;
          for (const p of body.pendingRestart ?? []) head += `# pending restart: ${p}\n`;
          return head + stringify(body.config ?? {});
        });
      }),
    );

  addIfMatch(
    config
      .command('apply <file>')
      .description('replace the configuration with FILE (YAML or JSON, the config file form); relative paths resolve on the server')
      .option('--dry-run', 'validate and show the plan, change nothing'),
  ).action(
    act(async (ctx, file: string, o: { dryRun?: boolean; ifMatch?: string }) => {
      const doc = readConfigFile(file);
      const res = await ctx.api.request('PUT', apiPath('config'), { body: doc, query: { dryRun: o.dryRun ? 'true' : undefined }, ifMatch: o.ifMatch });
      if (!o.dryRun) {
        reportWrite(ctx, res, 'configuration');
        return;
      }
      if (ctx.mode !== 'table') {
        ctx.out(serialise(res.body ?? {}, ctx.mode));
        return;
      }
      const change = { ...(res.body as { change?: ChangeSummary } | undefined)?.change, dryRun: true };
      ctx.out(`dry run, nothing applied: ${change.changed === false ? 'no changes' : 'the plan'}\n`);
      const { out, err } = formatChange(change);
      ctx.out(out);
      ctx.err(err);
    }),
  );

  config
    .command('backups')
    .description('the configuration files kept before each change, newest first')
    .action(
      act(async (ctx) => {
        const list = (await ctx.api.request('GET', apiPath('config', 'backups'))).body as { name: string; time: string; size: number }[];
        show(ctx, list, () => table(['NAME', 'TIME', 'SIZE'], list.map((b) => [b.name, b.time, humanSize(b.size)])));
      }),
    );
}
