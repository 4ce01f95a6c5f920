import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted and undefined members dropped, so that two values that mean the
 * same config give the same text whatever order their keys were built in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) sorted[key] = sortKeys(member);
  }
  return sorted;
}

/**
 * A short, stable name for a config (or any part of one): the first 16 hex digits of the SHA-256
 * of its canonical JSON. The same content gives the same revision across restarts; the admin API
 * uses it as an ETag.
 */
export function configRevision(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** Deep equality of plain JSON-like values, undefined members ignored. */
export function sameValue(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
