/**
 * The config file, as a zod schema. Parsing fills every default, so code that
 * receives a `Config` never has to guess one. Objects are strict: an unknown
 * key is a typo until proven otherwise, and a typo in a storage config should
 * stop the target rather than be ignored. The parts live in schema/.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { AuthSchema } from './schema/auth.js';
import { ClusterSchema } from './schema/cluster.js';
import { NamedBackstoreSchema, type BackstoreConfig } from './schema/backstore.js';
import { HostSchema, PathSchema, byteSize, integer, reportDuplicates } from './schema/fields.js';
import { IscsiSchema } from './schema/iscsi.js';
import { DEFAULT_ADMIN_PORT } from './env-vars.js';
import { TargetSchema } from './schema/target.js';

export { defaultLunSerial } from './schema/target.js';
export type { AclConfig, AclLunConfig } from './schema/acl.js';
export type { AuthConfig } from './schema/auth.js';
export type { ClusterConfig } from './schema/cluster.js';
export type { BackstoreConfig, NamedBackstoreConfig } from './schema/backstore.js';

const MemorySchema = z.strictObject({
  /** Bounce pool page size. */
  pageSize: byteSize(4096, 16 * 2 ** 20)
    .refine((size) => (size & (size - 1)) === 0, 'must be a power of two')
    .default(65_536),
  poolPages: integer(1, 1_048_576).default(512),
  /** How long a command may wait for pool pages before it is refused. */
  poolWaitMs: integer(0, 600_000).default(2000),
});

/**
 * HTTP admin listener (GET /metrics, /healthz, the /v1 REST API). Loopback by
 * default: metrics name targets and initiators, so exposing them must be a decision.
 */
const AdminSchema = z.strictObject(
  {
    enabled: z.boolean().default(true),
    host: HostSchema.default('127.0.0.1'),
    port: integer(1, 65535).default(DEFAULT_ADMIN_PORT),
    /**
     * The /v1 API's bearer token, one line in a file of mode 0600 (made on first
     * start if missing; a file others may read stops the start). Default
     * `<stateDir>/admin-token` (adminTokenPath). Delete it and restart to rotate.
     */
    tokenFile: PathSchema.optional(),
  },
  { error: 'must be an object like { host: 127.0.0.1, port: 9470 } (enabled: false turns it off)' },
);

/** Where the admin API's token lives: admin.tokenFile, or admin-token in stateDir. */
export function adminTokenPath(config: { stateDir: string; admin: { tokenFile?: string | undefined } }): string {
  return config.admin.tokenFile ?? join(config.stateDir, 'admin-token');
}

/** Whether two listeners on (host, port) would fight over the same socket. */
function sameSocket(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  const wildcard = (h: string): boolean => h === '0.0.0.0' || h === '::';
  return a.port === b.port && (a.host.toLowerCase() === b.host.toLowerCase() || wildcard(a.host) || wildcard(b.host));
}

// --- the whole file ------------------------------------------------------------------

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ConfigSchema = z
  .strictObject({
    logLevel: z.enum(LOG_LEVELS).default('info'),
    /**
     * Target state that must outlive a restart but has no backing file to sit
     * next to: block LUNs' APTPL reservations (`pr/`), atomic-write journals.
     * Resolved like backstore paths (prefault, so the default is resolved too).
     */
    stateDir: PathSchema.prefault('./data/state'),
    iscsi: IscsiSchema.prefault({}),
    memory: MemorySchema.prefault({}),
    admin: AdminSchema.prefault({}),
    /** Backstores with a name, that LUNs refer to by it (`backstore: <name>`); each serves at most one LUN. */
    backstores: z.array(NamedBackstoreSchema).default([]),
    targets: z.array(TargetSchema).default([]),
    /** Authentication for SendTargets discovery sessions. */
    discoveryAuth: AuthSchema.default({ method: 'none' }),
    /** Cluster mode (docs/cluster.md); absent: a single node that never talks to etcd. */
    cluster: ClusterSchema.optional(),
  })
  .superRefine((config, ctx) => {
    if (config.admin.enabled && config.iscsi.portals.some((portal) => sameSocket(portal, config.admin))) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'port'], message: `${config.admin.port} is already an iSCSI portal port` });
    }
    reportDuplicates(
      config.targets.map((target) => target.iqn),
      (index, iqn) =>
        ctx.addIssue({ code: 'custom', path: ['targets', index, 'iqn'], message: `duplicate target ${iqn}` }),
    );
    checkBackstoreNames(config, ctx);
  })
  .transform(({ backstores, targets, ...rest }) => {
    const byName = new Map(backstores.map(({ name, ...store }) => [name, store as BackstoreConfig]));
    return {
      ...rest,
      backstores,
      targets: targets.map((target) => ({
        ...target,
        luns: target.luns.map(({ backstore, ...lun }): typeof lun & { backstore: BackstoreConfig; backstoreName?: string } =>
          typeof backstore === 'string' ? { ...lun, backstore: byName.get(backstore)!, backstoreName: backstore } : { ...lun, backstore },
        ),
      })),
    };
  });

/** Names unique; every name a LUN uses exists; a named backstore serves one LUN at most (its data would be torn between two). */
function checkBackstoreNames(
  config: { backstores: { name: string }[]; targets: { luns: { backstore: unknown }[] }[] },
  ctx: z.RefinementCtx,
): void {
  reportDuplicates(
    config.backstores.map((b) => b.name),
    (index, name) => ctx.addIssue({ code: 'custom', path: ['backstores', index, 'name'], message: `duplicate backstore ${name}` }),
  );
  const names = new Set(config.backstores.map((b) => b.name));
  const usedBy = new Map<string, string>();
  config.targets.forEach((target, t) =>
    target.luns.forEach((lun, l) => {
      if (typeof lun.backstore !== 'string') return;
      const path = ['targets', t, 'luns', l, 'backstore'];
      const where = `targets[${t}].luns[${l}]`;
      if (!names.has(lun.backstore)) ctx.addIssue({ code: 'custom', path, message: `no backstore named ${lun.backstore}` });
      const other = usedBy.get(lun.backstore);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path, message: `backstore ${lun.backstore} already serves ${other}` });
      else usedBy.set(lun.backstore, where);
    }),
  );
}

/** A validated config with every default filled in. */
export type Config = z.output<typeof ConfigSchema>;
/** What may be written in the file (defaults omitted, sizes with units). */
export type ConfigInput = z.input<typeof ConfigSchema>;
export type IscsiConfig = Config['iscsi'];
export type PortalConfig = IscsiConfig['portals'][number];
export type MemoryConfig = Config['memory'];
export type AdminConfig = Config['admin'];
export type TargetConfig = Config['targets'][number];
export type LunConfig = TargetConfig['luns'][number];
export type LogLevel = Config['logLevel'];
