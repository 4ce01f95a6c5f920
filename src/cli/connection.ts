/**
 * Where the admin API is and which token to show it, so that on the target's own host no
 * flag is needed: flags, then environment, then the config file Scatter itself reads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { resolveDataPath } from '../config/data-dir.js';
import { DEFAULT_ADMIN_PORT, ENV_ADMIN, ENV_DATA_DIR, envValue, splitAddress } from '../config/env-vars.js';
import { UsageError } from './errors.js';

export const DEFAULT_CONFIG = 'config/scatter.yaml';
export const DEFAULT_URL = `http://127.0.0.1:${DEFAULT_ADMIN_PORT}`;
const DEFAULT_TOKEN_FILE = './data/state/admin-token';

export interface ConnectionOptions {
  url?: string | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
  config?: string | undefined;
}

export interface Connection {
  url: string;
  token: string | undefined;
  /** Where the token came from (never the token itself), for the hint after a 401. */
  tokenSource: string;
}

interface ConfigHints {
  host?: string;
  port?: number;
  tokenFile?: string;
  stateDir?: string;
}

export function resolveConnection(opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  const hints = configHints(opts, env);
  const url = urlOf(opts, env, hints);
  const token = opts.token ?? env.SCATTER_TOKEN;
  if (token !== undefined && token !== '') return { url, token, tokenSource: opts.token !== undefined ? '--token' : 'SCATTER_TOKEN' };
  const explicitFile = opts.tokenFile ?? env.SCATTER_TOKEN_FILE;
  if (explicitFile !== undefined) return { url, token: readToken(explicitFile, true), tokenSource: resolve(explicitFile) };
  // Relative paths in the config resolve as `scatter serve` resolves them: against the current
  // directory, `./data/...` under $SCATTER_DATA_DIR when it is set.
  const written = hints.tokenFile ?? (hints.stateDir !== undefined ? `${hints.stateDir}/admin-token` : DEFAULT_TOKEN_FILE);
  const file = resolveDataPath(written, envValue(env, ENV_DATA_DIR));
  return { url, token: readToken(file, false), tokenSource: file };
}

/** The admin listener's base URL as the other commands find it (the container's HEALTHCHECK uses it too). */
export function adminUrl(opts: Pick<ConnectionOptions, 'url' | 'config'>, env: NodeJS.ProcessEnv = process.env): string {
  return urlOf(opts, env, configHints(opts, env));
}

function urlOf(opts: Pick<ConnectionOptions, 'url'>, env: NodeJS.ProcessEnv, hints: ConfigHints): string {
  return normaliseUrl(opts.url ?? env.SCATTER_URL ?? urlFromConfig(hints) ?? DEFAULT_URL);
}

/** What the config file says of the admin listener, with $SCATTER_ADMIN over it as `scatter serve` has it. */
function configHints(opts: Pick<ConnectionOptions, 'config'>, env: NodeJS.ProcessEnv): ConfigHints {
  const explicitConfig = opts.config ?? env.SCATTER_CONFIG;
  const hints = readConfigHints(explicitConfig ?? DEFAULT_CONFIG, explicitConfig !== undefined);
  const admin = envValue(env, ENV_ADMIN);
  if (admin === undefined) return hints;
  const written = splitAddress(admin);
  if (typeof written === 'string') throw new UsageError(`${ENV_ADMIN}=${admin}: ${written}`);
  return { ...hints, host: written.host, port: written.port ?? DEFAULT_ADMIN_PORT };
}

function readConfigHints(path: string, required: boolean): ConfigHints {
  if (!existsSync(path)) {
    if (required) throw new UsageError(`config file ${path} not found (from --config or SCATTER_CONFIG)`);
    return {};
  }
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read config file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const hints: ConfigHints = {};
  if (!isRecord(doc)) return hints;
  if (typeof doc.stateDir === 'string') hints.stateDir = doc.stateDir;
  const admin = doc.admin;
  if (isRecord(admin)) {
    if (typeof admin.host === 'string') hints.host = admin.host;
    if (typeof admin.port === 'number') hints.port = admin.port;
    if (typeof admin.tokenFile === 'string') hints.tokenFile = admin.tokenFile;
  }
  return hints;
}

function urlFromConfig(h: ConfigHints): string | undefined {
  if (h.host === undefined && h.port === undefined) return undefined;
  // A wildcard listener is reached on loopback from this host.
  let host = h.host ?? '127.0.0.1';
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  if (host.includes(':')) host = `[${host}]`;
  return `http://${host}:${h.port ?? DEFAULT_ADMIN_PORT}`;
}

function normaliseUrl(raw: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`invalid URL ${JSON.stringify(raw)} (expected e.g. http://127.0.0.1:9470)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`URL ${JSON.stringify(raw)}: only http and https are supported`);
  return url.origin;
}

/** The token is the file's first line; an absent default file just means "no token" (the API will say 401). */
function readToken(path: string, required: boolean): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read token file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const token = text.split('\n')[0]!.trim();
  return token === '' ? undefined : token;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
