/**
 * The data directory: where a config's `./data/...` paths (backing files, stateDir, the admin
 * token) live. By default `<working directory>/data`; SCATTER_DATA_DIR moves it (a container's
 * volume). Only relative paths whose first part is `data` move: an absolute path, or any other
 * relative one, is the operator's explicit choice and resolves as before.
 */
import { isAbsolute, normalize, resolve, sep } from 'node:path';

/** `path` resolved as a config path, `./data/...` under `dataDir` when one is given. */
export function resolveDataPath(path: string, dataDir: string | undefined): string {
  if (dataDir === undefined || isAbsolute(path)) return resolve(path);
  const norm = normalize(path);
  if (norm === 'data' || norm === `data${sep}`) return resolve(dataDir);
  if (norm.startsWith(`data${sep}`)) return resolve(dataDir, norm.slice('data'.length + 1));
  return resolve(path);
}

// Process-wide like the working directory it stands in for: set once by `scatter serve` before
// the config is read, so the file, SIGHUP and admin API edits all resolve paths the same way.
let current: string | undefined;

/** Set (or, with undefined, clear) the data directory every later config validation uses. */
export function setDataDir(dir: string | undefined): void {
  current = dir === undefined ? undefined : resolve(dir);
}

/** The data directory set by setDataDir, or undefined for `<working directory>/data`. */
export function dataDir(): string | undefined {
  return current;
}

/** How PathSchema resolves a path: against the working directory, `./data/...` under the data directory. */
export function resolveConfigPath(path: string): string {
  return resolveDataPath(path, current);
}
