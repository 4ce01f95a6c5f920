/**
 * The environment variables that say where Scatter listens and keeps its data, read as text.
 * No zod here: the admin CLI (and the container's HEALTHCHECK) reads SCATTER_ADMIN too, and
 * `scatter serve` validates the values with the config's own schema (env-overrides.ts).
 */

export const ENV_PORTAL = 'SCATTER_PORTAL';
export const ENV_ADMIN = 'SCATTER_ADMIN';
export const ENV_DATA_DIR = 'SCATTER_DATA_DIR';

/** The ports an address without one gets: the iSCSI port (RFC 7143) and the admin listener's default. */
export const DEFAULT_PORTAL_PORT = 3260;
export const DEFAULT_ADMIN_PORT = 9470;

/** A variable's value; unset and empty are the same (compose writes `VAR=` for "not set"). */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** An address as written: the host, and the port when one was given (not checked further). */
export interface WrittenAddress {
  readonly host: string;
  readonly port: number | undefined;
}

export const ADDRESS_FORM = 'HOST:PORT, e.g. 0.0.0.0:3260 or [::]:3260';

/**
 * `HOST:PORT`, `[IPV6]:PORT`, `HOST` or a bare IPv6 address, split; a string saying what is
 * wrong when the text has no such shape. Whether the host is an IP address and the port in
 * range is for the schema to say.
 */
export function splitAddress(text: string): WrittenAddress | string {
  if (text === '') return `empty address; the form is ${ADDRESS_FORM}`;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) return withPort(bracketed[1]!, bracketed[2]);
  const colons = text.split(':').length - 1;
  if (colons > 1) return { host: text, port: undefined }; // an IPv6 address without brackets has no port
  if (colons === 0) return { host: text, port: undefined };
  const at = text.indexOf(':');
  return withPort(text.slice(0, at), text.slice(at + 1));
}

function withPort(host: string, port: string | undefined): WrittenAddress | string {
  if (host === '') return `no host before the port; the form is ${ADDRESS_FORM}`;
  if (port === undefined) return { host, port: undefined };
  if (!/^\d{1,5}$/.test(port)) return `port ${JSON.stringify(port)} is not a number; the form is ${ADDRESS_FORM}`;
  return { host, port: Number(port) };
}

/** A comma-separated list of addresses (SCATTER_PORTAL may name several portals), each with its text. */
export function splitAddressList(text: string): { text: string; address: WrittenAddress | string }[] {
  return text.split(',').map((part) => ({ text: part.trim(), address: splitAddress(part.trim()) }));
}
