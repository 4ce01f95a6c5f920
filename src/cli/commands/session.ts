/** `scatter session list|show|kill` and `scatter logins` — who is logged in, and who tried. */
import type { Command } from 'commander';
import { apiPath } from '../api-client.js';
import { act, reportDelete, show } from '../context.js';
import { UsageError } from '../errors.js';
import { fields, humanSize, table } from '../format.js';
import type { LoginAttempt, Session } from './resources.js';


function tsihArg(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new UsageError(`TSIH ${JSON.stringify(text)}: must be 1..65535`);
  return Number(text);
}

function age(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

export function registerSession(program: Command): void {
  const session = program.command('session').description('logged-in iSCSI sessions (list, show, kill)');

  session
    .command('list')
    .alias('ls')
    .description('sessions, optionally of one target')
    .option('--target <iqn>', 'only sessions to this target')
    .action(
      act(async (ctx, o: { target?: string }) => {
        let list = ((await ctx.api.request('GET', apiPath('sessions'))).body as { sessions: Session[] }).sessions;
        if (o.target !== undefined) list = list.filter((s) => s.target === o.target);
        show(ctx, list, () =>
          table(
            ['TSIH', 'INITIATOR', 'ADDRESS', 'TARGET', 'TYPE', 'CONNS', 'AGE', 'READ', 'WRITTEN'],
            list.map((s) => [
              s.tsih,
              s.initiatorName,
              s.sourceAddress,
              s.target ?? '(discovery)',
              s.sessionType,
              s.connections?.length ?? 0,
              age(s.ageSeconds),
              humanSize(s.counters?.readBytes ?? 0),
              humanSize(s.counters?.writtenBytes ?? 0),
            ]),
          ),
        );
      }),
    );

  session
    .command('show <tsih>')
    .description('one session with its negotiated parameters (use -o yaml for all of them)')
    .action(
      act(async (ctx, text: string) => {
        const s = (await ctx.api.request('GET', apiPath('sessions', tsihArg(text)))).body as Session;
        show(ctx, s, () =>
          fields([
            ['tsih', s.tsih],
            ['isid', s.isid],
            ['initiator', s.initiatorName],
            ['alias', s.initiatorAlias ?? undefined],
            ['address', s.sourceAddress === undefined ? undefined : `${s.sourceAddress}:${s.sourcePort}`],
            ['target', s.target ?? '(discovery)'],
            ['type', s.sessionType],
            ['connections', s.connections?.length ?? 0],
            ['age', age(s.ageSeconds)],
            ['commands', s.counters?.commands],
            ['read', humanSize(s.counters?.readBytes ?? 0)],
            ['written', humanSize(s.counters?.writtenBytes ?? 0)],
          ]),
        );
      }),
    );

  session
    .command('kill <tsih>')
    .description('log a session out (its TSIH from `scatter session list`)')
    .action(
      act(async (ctx, text: string) => {
        const tsih = tsihArg(text);
        await ctx.api.request('DELETE', apiPath('sessions', tsih));
        reportDelete(ctx, `session ${tsih}`);
      }),
    );

  program
    .command('logins')
    .description('recent login attempts per initiator, successes and failures with the reason')
    .option('--initiator <name>', 'only this initiator')
    .option('--failures', 'only failed attempts')
    .action(
      act(async (ctx, o: { initiator?: string; failures?: boolean }) => {
        const query = new URLSearchParams();
        if (o.initiator !== undefined) query.set('initiator', o.initiator);
        if (o.failures) query.set('outcome', 'failure');
        const path = query.size > 0 ? `${apiPath('logins')}?${query.toString()}` : apiPath('logins');
        const list = ((await ctx.api.request('GET', path)).body as { logins: LoginAttempt[] }).logins;
        show(ctx, list, () =>
          table(
            ['TIME', 'INITIATOR', 'ADDRESS', 'TARGET', 'OUTCOME', 'REASON'],
            list.map((a) => [a.at, a.initiatorName ?? '-', a.sourceAddress, a.target ?? '-', a.outcome, [a.reason, a.detail].filter(Boolean).join(': ')]),
          ),
        );
      }),
    );
}
