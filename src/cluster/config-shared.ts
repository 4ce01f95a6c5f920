/**
 * Which part of the configuration a cluster shares through etcd, and how it is written there
 * (docs/cluster.md, "Pieces", config). Shared: exactly what the control plane applies live —
 * `targets`, `backstores`, `discoveryAuth` (control/plan.ts, `inEffect`). Everything else (portals,
 * admin, memory, stateDir, logLevel, iSCSI settings, `cluster:` itself) is the node's own and comes
 * from its file. The shared part is stored as canonical JSON of its *file form* (config/file-form.ts:
 * a named backstore by its name), so that it validates again with ConfigSchema like a file would.
 */
import { ConfigError } from '../config/error.js';
import { toFileForm } from '../config/file-form.js';
import { validateConfig } from '../config/load.js';
import { canonicalJson } from '../config/revision.js';
import type { Config, ConfigInput } from '../config/schema.js';

export const SHARED_KEYS = ['targets', 'backstores', 'discoveryAuth'] as const;
export type SharedKey = (typeof SHARED_KEYS)[number];

/** The shared part in file form: what etcd holds. */
export type SharedPart = Pick<ConfigInput, SharedKey>;

export function sharedPart(config: Config): SharedPart {
  const form = toFileForm(config);
  return { targets: form.targets, backstores: form.backstores, discoveryAuth: form.discoveryAuth };
}

/** The node's own part in file form (every key but the shared ones). */
export function nodeLocalPart(config: Config): Omit<ConfigInput, SharedKey> {
  const { targets: _t, backstores: _b, discoveryAuth: _d, ...rest } = toFileForm(config);
  return rest;
}

/** The value written to etcd for `config`: canonical JSON, so equal configs give equal text. */
export function encodeShared(config: Config): string {
  return canonicalJson(sharedPart(config));
}

/** Top-level keys that differ between two configs' node-local parts. */
export function changedNodeLocalKeys(a: Config, b: Config): string[] {
  const pa = nodeLocalPart(a) as Record<string, unknown>;
  const pb = nodeLocalPart(b) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(pa), ...Object.keys(pb)])].sort();
  return keys.filter((k) => canonicalJson(pa[k]) !== canonicalJson(pb[k]));
}

/**
 * The text held at an etcd key as a shared part: a JSON object with shared keys only (a node-local
 * key in etcd would silently override every node's own setting, so it is an error). Throws a
 * ConfigError whose source is `source` (the key and revision).
 */
export function decodeShared(text: string, source: string): Partial<SharedPart> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(source, [{ path: '(root)', message: `not JSON: ${message}` }], { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(source, [{ path: '(root)', message: 'must be a JSON object with targets, backstores and discoveryAuth' }]);
  }
  const foreign = Object.keys(value).filter((k) => !(SHARED_KEYS as readonly string[]).includes(k));
  if (foreign.length > 0) {
    throw new ConfigError(
      source,
      foreign.map((k) => ({ path: k, message: 'is not shared through etcd (only targets, backstores and discoveryAuth are; the rest is each node\'s own)' })),
    );
  }
  return value as Partial<SharedPart>;
}

/**
 * `local` with its shared part replaced by `shared`, which is validated with ConfigSchema on its own
 * (so names resolve and every default is filled; no check of the schema relates a shared key to a
 * node-local one). A problem is a ConfigError naming `source`. `local` is not validated again: it
 * is the node's config as it runs (tests bind port 0, which a file may not say).
 */
export function withShared(local: Config, shared: Partial<SharedPart>, source: string): Config {
  const parsed = validateConfig({ ...shared }, source);
  return { ...local, targets: parsed.targets, backstores: parsed.backstores, discoveryAuth: parsed.discoveryAuth };
}
