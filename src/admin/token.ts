/**
 * The admin API's bearer token: one secret in a file only its owner may read. Made on first start
 * (32 random bytes, base64url, mode 0600, created exclusively so a file someone else put there
 * first is never overwritten); a file others may read or write is refused, not trusted, since the
 * token in it may already be known. Rotate it by deleting the file and restarting.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ScatterError } from '../shared/errors.js';

/** Shortest token read from a file (a hand-written one too): guessing must stay hopeless. */
export const MIN_TOKEN_LENGTH = 24;

export class AdminTokenError extends ScatterError<'ADMIN_TOKEN_INVALID'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ADMIN_TOKEN_INVALID', message, options);
  }
}

export async function loadOrCreateAdminToken(path: string, log: Logger): Promise<string> {
  const created = await createTokenFile(path);
  if (created !== undefined) {
    log.info({ tokenFile: path }, 'admin API token created');
    return created;
  }
  const info = await stat(path);
  if (!info.isFile()) throw new AdminTokenError(`admin token file ${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new AdminTokenError(
      `admin token file ${path} has mode ${mode}: others may have read it. Run chmod 600 on it (or delete it for a new token) and start again`,
    );
  }
  const token = (await readFile(path, 'utf8')).trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new AdminTokenError(`admin token file ${path} must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces`);
  }
  log.info({ tokenFile: path }, 'admin API token read');
  return token;
}

/** A new token written to `path`; undefined when the file already exists. */
async function createTokenFile(path: string): Promise<string | undefined> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw new AdminTokenError(`admin token file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const token = randomBytes(32).toString('base64url');
  try {
    await handle.writeFile(`${token}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return token;
}
