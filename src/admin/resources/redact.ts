/**
 * Secrets are write-only: CHAP secrets never leave the target through the API. What an answer
 * shows instead is whether one is set, so that an operator can tell "configured" from "missing".
 */
import type { AuthConfig } from '../../config/schema.js';

export type AuthView =
  | { method: 'none' }
  | { method: 'chap'; user: string; secretSet: true; mutualUser?: string; mutualSecretSet: boolean; algorithms: number[] };

export function redactAuth(auth: AuthConfig): AuthView {
  if (auth.method === 'none') return { method: 'none' };
  return {
    method: 'chap',
    user: auth.user,
    secretSet: true,
    ...(auth.mutualUser === undefined ? {} : { mutualUser: auth.mutualUser }),
    mutualSecretSet: auth.mutualSecret !== undefined,
    algorithms: [...auth.algorithms],
  };
}

const SECRET_KEYS = new Set(['secret', 'mutualSecret']);

/**
 * A deep copy of any part of the config with every CHAP secret replaced by `secretSet` /
 * `mutualSecretSet` (GET /v1/config, backups' API view). Works on any shape, so a secret added to
 * the schema later under the same key names is redacted too.
 */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEYS.has(key)) out[`${key}Set`] = v !== undefined;
    else out[key] = redactSecrets(v);
  }
  return out;
}
