/**
 * Environment over file, for a container configured without editing its config:
 * SCATTER_PORTAL sets iscsi.portals, SCATTER_ADMIN admin.host/port (and turns the listener on),
 * SCATTER_DATA_DIR the directory of `./data/...` paths (data-dir.ts). They win over the file at
 * start-up and at every reload (SIGHUP); a change of what they set through the admin API is
 * refused (pinnedConflicts); the file is never written with their values (withFileValues).
 */
import { z } from 'zod';
import { setDataDir } from './data-dir.js';
import { ADDRESS_FORM, DEFAULT_ADMIN_PORT, DEFAULT_PORTAL_PORT, ENV_ADMIN, ENV_DATA_DIR, ENV_PORTAL, envValue, splitAddressList } from './env-vars.js';
import { ConfigError, formatIssuePath, type ConfigIssue } from './error.js';
import { toFileForm } from './file-form.js';
import { loadConfig, validateConfig } from './load.js';
import { sameValue } from './revision.js';
import { HostSchema, integer } from './schema/fields.js';
import type { Config } from './schema.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** What the environment sets; a key absent here is the file's. */
export interface EnvOverrides {
  readonly portals?: readonly ListenAddress[];
  readonly admin?: ListenAddress;
  readonly dataDir?: string;
  /** The variables in effect, as given: for the log and for messages. */
  readonly variables: Readonly<Record<string, string>>;
}

// The file's own rules for a host and a port, so a value is judged as it would be in the file.
const AddressSchema = z.strictObject({ host: HostSchema, port: integer(1, 65535) });

/** Read the variables; a malformed one is a ConfigError (source `environment`) naming it. */
export function readEnvOverrides(env: NodeJS.ProcessEnv): EnvOverrides {
  const issues: ConfigIssue[] = [];
  const variables: Record<string, string> = {};
  const addresses = (name: string, defaultPort: number): ListenAddress[] | undefined => {
    const text = envValue(env, name);
    if (text === undefined) return undefined;
    variables[name] = text;
    const out: ListenAddress[] = [];
    for (const { text: part, address: written } of splitAddressList(text)) {
      if (typeof written === 'string') {
        issues.push({ path: name, message: `${JSON.stringify(part)}: ${written}` });
        continue;
      }
      const checked = AddressSchema.safeParse({ host: written.host, port: written.port ?? defaultPort });
      if (checked.success) out.push(checked.data);
      else {
        const why = checked.error.issues.map((issue) => `${formatIssuePath(issue.path)} ${issue.message}`).join('; ');
        issues.push({ path: name, message: `${JSON.stringify(part)}: ${why}; the form is ${ADDRESS_FORM}` });
      }
    }
    return out;
  };
  const portals = addresses(ENV_PORTAL, DEFAULT_PORTAL_PORT);
  const admin = addresses(ENV_ADMIN, DEFAULT_ADMIN_PORT);
  if (admin !== undefined && admin.length > 1) issues.push({ path: ENV_ADMIN, message: 'names one address, not a list' });
  const dataDir = envValue(env, ENV_DATA_DIR);
  if (dataDir !== undefined) variables[ENV_DATA_DIR] = dataDir;
  if (issues.length > 0) throw new ConfigError('environment', issues);
  return {
    variables,
    ...(portals === undefined ? {} : { portals }),
    ...(admin?.[0] === undefined ? {} : { admin: admin[0] }),
    ...(dataDir === undefined ? {} : { dataDir }),
  };
}

/**
 * `config` (read from `source`) with the environment's portals and admin address, validated
 * again whole: a clash the environment makes (admin port = portal port) is a ConfigError too.
 */
export function applyEnvOverrides(config: Config, o: EnvOverrides, source: string): Config {
  if (o.portals === undefined && o.admin === undefined) return config;
  const next: Config = {
    ...config,
    iscsi: o.portals === undefined ? config.iscsi : { ...config.iscsi, portals: o.portals.map((p) => ({ ...p })) },
    admin: o.admin === undefined ? config.admin : { ...config.admin, enabled: true, ...o.admin },
  };
  const names = [ENV_PORTAL, ENV_ADMIN].filter((name) => o.variables[name] !== undefined).join(', ');
  return validateConfig(toFileForm(next), `${source} with ${names} from the environment`);
}

/**
 * `scatter serve`'s config: the variables read (a malformed one stops the start), the data
 * directory set for every path validated from now on, the file read, the environment over it.
 */
export async function loadServeConfig(path: string, env: NodeJS.ProcessEnv): Promise<{ config: Config; overrides: EnvOverrides }> {
  const overrides = readEnvOverrides(env);
  setDataDir(overrides.dataDir);
  return { config: applyEnvOverrides(await loadConfig(path), overrides, path), overrides };
}

/** What is written to the file for `next`: the keys the environment sets keep the file's own values. */
export function withFileValues(next: Config, file: Config, o: EnvOverrides): Config {
  const { enabled, host, port } = file.admin;
  return {
    ...next,
    iscsi: o.portals === undefined ? next.iscsi : { ...next.iscsi, portals: file.iscsi.portals },
    admin: o.admin === undefined ? next.admin : { ...next.admin, enabled, host, port },
  };
}

/** One line per key the environment sets that `next` changes from `desired` (such a change is refused). */
export function pinnedConflicts(desired: Config, next: Config, o: EnvOverrides): string[] {
  const out: string[] = [];
  const unset = 'unset it and restart Scatter to change this through the config';
  if (o.portals !== undefined && !sameValue(desired.iscsi.portals, next.iscsi.portals)) {
    out.push(`iscsi.portals is set by ${ENV_PORTAL}=${o.variables[ENV_PORTAL]} in the environment; ${unset}`);
  }
  const listener = (c: Config) => ({ enabled: c.admin.enabled, host: c.admin.host, port: c.admin.port });
  if (o.admin !== undefined && !sameValue(listener(desired), listener(next))) {
    out.push(`admin.enabled, admin.host and admin.port are set by ${ENV_ADMIN}=${o.variables[ENV_ADMIN]} in the environment; ${unset}`);
  }
  return out;
}
