/** `scatter ls`: the whole tree at a glance, like `targetcli ls`. */
import type { Command } from 'commander';
import { apiPath } from '../api-client.js';
import { act, show } from '../context.js';
import { humanSize, tree, type TreeNode } from '../format.js';
import { authSummary, backstoreSummary, mappedLuns, portalText, type Backstore, type Portal, type Session, type Target } from './resources.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('targets with their LUNs (backstore, size), ACLs (mapped LUNs) and session counts; backstores; portals')
    .action(
      act(async (ctx) => {
        const get = async <T>(path: string): Promise<T> => (await ctx.api.request('GET', path)).body as T;
        const [targets, backstores, portals, { sessions }] = await Promise.all([
          get<Target[]>(apiPath('targets')),
          get<Backstore[]>(apiPath('backstores')),
          get<Portal[]>(apiPath('portals')),
          get<{ sessions: Session[] }>(apiPath('sessions')),
        ]);
        show(ctx, { targets, backstores, portals, sessions }, () => {
          const named = new Map(backstores.map((b) => [b.name, b]));
          const targetNodes: TreeNode[] = targets.map((t) => {
            const count = sessions.filter((s) => s.target === t.iqn).length;
            return {
              label: t.iqn,
              info: [t.alias, `auth ${authSummary(t.auth)}`, t.allowAnyInitiator ? 'any initiator' : 'ACL only', plural(count, 'session')].filter(Boolean).join(', '),
              children: [
                {
                  label: 'luns',
                  info: String(t.luns?.length ?? 0),
                  children: (t.luns ?? []).map((l) => {
                    const b = backstoreSummary(l.backstore, named);
                    const where = [b.type, b.path].filter(Boolean).join(' ');
                    return { label: `lun${l.lun}`, info: [`${b.name}${where ? ` (${where})` : ''}`, b.size, l.readOnly ? 'ro' : ''].filter(Boolean).join(', ') };
                  }),
                },
                {
                  label: 'acls',
                  info: String(t.acls?.length ?? 0),
                  children: (t.acls ?? []).map((a) => ({ label: a.initiator, info: `auth ${a.auth ? authSummary(a.auth) : 'target'}, luns ${mappedLuns(a)}` })),
                },
              ],
            };
          });
          return tree([
            { label: 'targets', info: String(targets.length), children: targetNodes },
            {
              label: 'backstores',
              info: String(backstores.length),
              children: backstores.map((b) => ({
                label: b.name,
                info: [[b.type, b.path].filter(Boolean).join(' '), humanSize(b.size), b.usedBy ? `used by ${b.usedBy.target} lun${b.usedBy.lun}` : 'unused'].join(', '),
              })),
            },
            { label: 'portals', info: String(portals.length), children: portals.map((p) => ({ label: portalText(p) })) },
            { label: 'sessions', info: String(sessions.length) },
          ]);
        });
      }),
    );
}
