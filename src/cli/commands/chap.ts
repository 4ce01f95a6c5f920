/**
 * `scatter chap set|clear`: CHAP of a target, of one initiator's ACL (--initiator), or of
 * discovery sessions (--discovery). Secrets come from a file or the environment so they stay
 * out of shell history and `ps`; --secret on the command line works but is the last resort.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { apiPath } from '../api-client.js';
import { act, reportWrite, type Ctx } from '../context.js';
import { UsageError } from '../errors.js';
import { addIfMatch } from './options.js';

export const SECRET_ENV = 'SCATTER_CHAP_SECRET';
export const MUTUAL_SECRET_ENV = 'SCATTER_CHAP_MUTUAL_SECRET';

interface Where {
  initiator?: string;
  discovery?: boolean;
  ifMatch?: string;
}

interface SetOpts extends Where {
  user: string;
  secret?: string;
  secretFile?: string;
  mutualUser?: string;
  mutualSecret?: string;
  mutualSecretFile?: string;
  algorithms?: number[];
}

/** Flag, else file (first line), else environment; undefined when none is given. */
function secretFrom(flag: string | undefined, file: string | undefined, envName: string, fileOption: string): string | undefined {
  if (flag !== undefined) return flag;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`${fileOption} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    return text.split(/\r?\n/)[0]!;
  }
  const env = process.env[envName];
  return env === undefined || env === '' ? undefined : env;
}

function algorithmsArg(value: string): number[] {
  const names: Record<string, number> = { md5: 5, 'sha-1': 6, sha1: 6, 'sha-256': 7, sha256: 7, 'sha3-256': 8 };
  return value.split(',').map((v) => {
    const t = v.trim().toLowerCase();
    const n = names[t] ?? Number(t);
    if (![5, 6, 7, 8].includes(n)) throw new InvalidArgumentError(`${JSON.stringify(v)} is not 5/md5, 6/sha1, 7/sha256 or 8/sha3-256`);
    return n;
  });
}

/** Where the auth lives: the target, one ACL, or discovery; checks the combination. */
function place(iqn: string | undefined, o: Where): { iqn?: string; initiator?: string; discovery: boolean } {
  if (o.discovery) {
    if (iqn !== undefined || o.initiator !== undefined) throw new UsageError('--discovery takes no target or --initiator');
    return { discovery: true };
  }
  if (iqn === undefined) throw new UsageError('missing target IQN (or --discovery)');
  return o.initiator !== undefined ? { iqn, initiator: o.initiator, discovery: false } : { iqn, discovery: false };
}

/** PATCH the auth of a target or ACL; `auth` is a merge patch (null members remove what was there). */
async function patchAuth(ctx: Ctx, at: { iqn?: string; initiator?: string }, auth: unknown, ifMatch: string | undefined): Promise<void> {
  const path = at.initiator !== undefined ? apiPath('targets', at.iqn!, 'acls', at.initiator) : apiPath('targets', at.iqn!);
  const res = await ctx.api.request('PATCH', path, { body: { auth }, mergePatch: true, ifMatch });
  reportWrite(ctx, res, `CHAP of ${at.initiator !== undefined ? `ACL ${at.initiator} on ` : 'target '}${at.iqn}`);
}

export function registerChap(program: Command): void {
  const chap = program
    .command('chap')
    .description('CHAP authentication of a target, an ACL (--initiator) or discovery (--discovery)');

  addIfMatch(
    chap
      .command('set [iqn]')
      .description(
        `set CHAP (replaces what was set). The secret comes from --secret-file, else $${SECRET_ENV}; ` +
          `the mutual secret from --mutual-secret-file, else $${MUTUAL_SECRET_ENV}. --secret / --mutual-secret ` +
          'on the command line also work (and win) but land in shell history and ps. Secrets: 12-255 bytes.',
      )
      .requiredOption('--user <name>', 'CHAP name the initiator must send')
      .option('--secret-file <file>', `read the secret from the file's first line (else $${SECRET_ENV})`)
      .option('--secret <secret>', 'the secret itself (visible in shell history; prefer --secret-file)')
      .option('--mutual-user <name>', 'mutual CHAP: the name the target answers with')
      .option('--mutual-secret-file <file>', `mutual secret from the file's first line (else $${MUTUAL_SECRET_ENV})`)
      .option('--mutual-secret <secret>', 'the mutual secret itself (visible in shell history)')
      .option('--algorithms <list>', 'CHAP_A offered, e.g. sha256,sha3-256 or 7,8 (default: all, strongest first)', algorithmsArg)
      .option('--initiator <name>', "the ACL's own CHAP for this initiator instead of the target's")
      .option('--discovery', 'CHAP for discovery (SendTargets) sessions'),
  ).action(
    act(async (ctx, iqn: string | undefined, o: SetOpts) => {
      const at = place(iqn, o);
      const secret = secretFrom(o.secret, o.secretFile, SECRET_ENV, '--secret-file');
      if (secret === undefined) throw new UsageError(`no secret: give --secret-file FILE or set ${SECRET_ENV}`);
      const mutualSecret = secretFrom(o.mutualSecret, o.mutualSecretFile, MUTUAL_SECRET_ENV, '--mutual-secret-file');
      if (o.mutualUser !== undefined && mutualSecret === undefined) {
        throw new UsageError(`--mutual-user needs a mutual secret: --mutual-secret-file FILE or ${MUTUAL_SECRET_ENV}`);
      }
      if (o.mutualUser === undefined && (o.mutualSecret !== undefined || o.mutualSecretFile !== undefined)) {
        throw new UsageError('a mutual secret needs --mutual-user');
      }
      const mutual = o.mutualUser !== undefined;
      if (at.discovery) {
        const auth: Record<string, unknown> = { method: 'chap', user: o.user, secret };
        if (mutual) Object.assign(auth, { mutualUser: o.mutualUser, mutualSecret });
        if (o.algorithms) auth.algorithms = o.algorithms;
        const res = await ctx.api.request('PUT', apiPath('discovery-auth'), { body: auth, ifMatch: o.ifMatch });
        reportWrite(ctx, res, 'discovery CHAP');
        return;
      }
      // Merge patch: null removes a mutual user / algorithm list set before, so "set" means exactly this.
      await patchAuth(
        ctx,
        at,
        {
          method: 'chap',
          user: o.user,
          secret,
          mutualUser: mutual ? o.mutualUser : null,
          mutualSecret: mutual ? mutualSecret : null,
          algorithms: o.algorithms ?? null,
        },
        o.ifMatch,
      );
    }),
  );

  addIfMatch(
    chap
      .command('clear [iqn]')
      .description("no CHAP: a target's auth becomes none; an ACL (--initiator) falls back to the target's")
      .option('--initiator <name>', "clear this initiator's ACL CHAP")
      .option('--discovery', 'discovery sessions need no CHAP'),
  ).action(
    act(async (ctx, iqn: string | undefined, o: Where) => {
      const at = place(iqn, o);
      if (at.discovery) {
        const res = await ctx.api.request('PUT', apiPath('discovery-auth'), { body: { method: 'none' }, ifMatch: o.ifMatch });
        reportWrite(ctx, res, 'discovery CHAP');
        return;
      }
      const none = { method: 'none', user: null, secret: null, mutualUser: null, mutualSecret: null, algorithms: null };
      await patchAuth(ctx, at, at.initiator !== undefined ? null : none, o.ifMatch);
    }),
  );
}
