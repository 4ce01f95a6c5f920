import { readFile } from 'node:fs/promises';
import { parseDocument, stringify, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { writeFileAtomic } from '../shared/atomic-write.js';
import { ConfigError, formatIssuePath, type ConfigIssue } from './error.js';
import { ConfigSchema, type Config } from './schema.js';
import { formatSize } from './size.js';
import { toFileForm } from './file-form.js';

export { ConfigError, type ConfigIssue } from './error.js';
export type { Config } from './schema.js';

/** Read, parse and validate a config file. Throws ConfigError naming the file and every bad field. */
export async function loadConfig(path: string): Promise<Config> {
  return parseConfig(await readConfigText(path), path);
}

/** The file's text; a file that cannot be read is a ConfigError naming it. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(path, [{ path: '(file)', message: `cannot read: ${message}` }], { cause: err });
  }
}

/** Parse YAML text and validate it; `sourceName` prefixes every error line. An empty document means all defaults. */
export function parseConfig(text: string, sourceName: string): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(sourceName, doc.errors.map(yamlIssue));
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // e.g. alias expansion beyond the library's limit (a "billion laughs" document).
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(sourceName, [{ path: '(root)', message: `invalid YAML: ${message}` }], { cause: err });
  }
  return validateConfig(value ?? {}, sourceName);
}

/** Validate an already-parsed value (e.g. a config edited through the admin API). */
export function validateConfig(value: unknown, sourceName: string): Config {
  const result = ConfigSchema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(sourceName, result.error.issues.flatMap(zodIssue));
  }
  return result.data;
}

/** The config as YAML, sizes spelled with units where exact. Comments of the original file are not kept. */
export function stringifyConfig(config: Config): string {
  const form = toFileForm(config);
  const readable = {
    ...form,
    memory: { ...config.memory, pageSize: formatSize(config.memory.pageSize) },
    backstores: config.backstores.map((store) => ('size' in store ? { ...store, size: formatSize(store.size) } : store)),
    targets: config.targets.map((target) => ({
      ...target,
      luns: target.luns.map(({ backstoreName, ...lun }) => ({
        ...lun,
        backstore:
          backstoreName ?? ('size' in lun.backstore ? { ...lun.backstore, size: formatSize(lun.backstore.size) } : lun.backstore),
      })),
    })),
  };
  return `# Scatter configuration, written by scatter.\n${stringify(readable)}`;
}

/**
 * Validate and write the config atomically (temp file, fsync, rename, fsync of
 * the directory): a crash leaves the old file or the new one, never half of it.
 * Nothing is written when the config is invalid.
 */
export async function saveConfig(path: string, config: Config): Promise<void> {
  const valid = validateConfig(config, path);
  await writeFileAtomic(path, stringifyConfig(valid));
}

function yamlIssue(error: YAMLError): ConfigIssue {
  const position = error.linePos?.[0];
  // prettyErrors appends " at line L, column C:" and a source excerpt; the position is reported separately.
  const message = error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
  return {
    path: '(yaml)',
    message: `invalid YAML: ${message}`,
    ...(position === undefined ? {} : { line: position.line, column: position.col }),
  };
}

function zodIssue(issue: z.core.$ZodIssue): ConfigIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: formatIssuePath([...issue.path, key]), message: 'unknown key' }));
  }
  return [{ path: formatIssuePath(issue.path), message: issue.message }];
}
