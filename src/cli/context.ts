/** What every API subcommand needs: a client for the resolved URL/token, the output mode, and printers. */
import { InvalidArgumentError, type Command } from 'commander';
import { ApiClient, type ApiResponse } from './api-client.js';
import { resolveConnection } from './connection.js';
import { UsageError } from './errors.js';
import { formatChange, serialise, type ChangeSummary, type OutputMode } from './format.js';

export interface Ctx {
  api: ApiClient;
  mode: OutputMode;
  /** Where the token came from, for the hint after a 401 (never the token). */
  tokenSource: string;
  hasToken: boolean;
  out(text: string): void;
  err(text: string): void;
}

interface GlobalOpts {
  url?: string;
  token?: string;
  tokenFile?: string;
  config?: string;
  json?: boolean;
  output?: string;
  timeout?: string;
}

/** The most recent context, so main can add the token hint to a 401 it reports. */
export let lastCtx: Ctx | undefined;

export function ctxFrom(cmd: Command): Ctx {
  const o = cmd.optsWithGlobals<GlobalOpts>();
  const mode = outputMode(o);
  const conn = resolveConnection({ url: o.url, token: o.token, tokenFile: o.tokenFile, config: o.config });
  const timeout = o.timeout === undefined ? 30 : Number(o.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got ${o.timeout}`);
  lastCtx = {
    api: new ApiClient(conn.url, conn.token, timeout * 1000),
    mode,
    tokenSource: conn.tokenSource,
    hasToken: conn.token !== undefined,
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
  };
  return lastCtx;
}

function outputMode(o: GlobalOpts): OutputMode {
  if (o.output !== undefined && !['table', 'json', 'yaml'].includes(o.output)) {
    throw new UsageError(`-o/--output must be table, json or yaml, got ${JSON.stringify(o.output)}`);
  }
  const asked = o.output as OutputMode | undefined;
  if (o.json && asked !== undefined && asked !== 'json') throw new UsageError(`--json and -o ${asked} contradict each other`);
  return o.json ? 'json' : (asked ?? 'table');
}

/** Data for scripts as they asked; for people, `human()` renders it. */
export function show(ctx: Ctx, data: unknown, human: () => string): void {
  ctx.out(ctx.mode === 'table' ? human() : serialise(data, ctx.mode));
}

/** Report a PUT/PATCH answer `{ resource, change }`: "created", "updated" or "unchanged", then the change summary. */
export function reportWrite(ctx: Ctx, res: ApiResponse, what: string): void {
  if (ctx.mode !== 'table') {
    ctx.out(serialise(res.body ?? {}, ctx.mode));
    return;
  }
  const change = (res.body as { change?: ChangeSummary } | undefined)?.change;
  const verb = res.status === 201 ? 'created' : change?.changed === false ? 'unchanged:' : 'updated';
  ctx.out(`${verb} ${what}\n`);
  const { out, err } = formatChange(change);
  ctx.out(out);
  ctx.err(err);
}

/** Report a 204 DELETE (scripts get nothing on stdout; the exit status says it). */
export function reportDelete(ctx: Ctx, what: string): void {
  if (ctx.mode === 'table') ctx.out(`deleted ${what}\n`);
}

/**
 * An action handler with its context: commander passes the declared arguments, the options
 * and the command itself; a usage problem found while building the request exits 2 with usage.
 */
export function act<A extends unknown[]>(fn: (ctx: Ctx, ...args: A) => Promise<void>) {
  return async function (this: Command, ...args: A): Promise<void> {
    try {
      await fn(ctxFrom(this), ...args);
    } catch (err) {
      if (err instanceof UsageError || err instanceof InvalidArgumentError) this.error(`error: ${err.message}`, { exitCode: 2, code: 'scatter.usage' });
      throw err;
    }
  };
}
