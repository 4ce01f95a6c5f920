/**
 * The config file, as a zod schema. Parsing fills every default, so code that
 * receives a `Config` never has to guess one. Objects are strict: an unknown
 * key is a typo until proven otherwise, and a typo in a storage config should
 * stop the target rather than be ignored.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { CHAP_ALGORITHMS, type ChapAlgorithm } from '../shared/chap-algorithms.js';
import { isPhysicalBlockSize } from '../shared/block-size.js';
import { iscsiNameProblem } from './iscsi-name.js';
import { SizeError, formatSize, parseSize } from './size.js';

/** The iSCSI DataSegmentLength field is 24 bits wide. */
const MAX_ISCSI_LENGTH = 16_777_215;

function integer(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.number({ error: message }).int(message).min(min, message).max(max, message);
}

/** A byte count: an integer or a string with a unit (see size.ts), between min and max. */
function byteSize(min: number, max: number) {
  const range =
    min === 1 ? 'must be greater than 0' : `must be from ${String(formatSize(min))} to ${String(formatSize(max))}`;
  return z
    .union([z.number(), z.string()], {
      error: 'must be a number of bytes (e.g. 4096) or a size with a unit (e.g. 64MiB, 1G)',
    })
    .transform((value, ctx) => {
      try {
        return parseSize(value);
      } catch (err) {
        if (!(err instanceof SizeError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
        return z.NEVER;
      }
    })
    .pipe(z.number().min(min, range).max(max, range));
}

function hasControlCharacters(text: string): boolean {
  return /\p{Cc}/u.test(text);
}

/** Report every repeated value of `keys` after its first occurrence. */
function reportDuplicates<T>(keys: readonly T[], report: (index: number, key: T) => void): void {
  const seen = new Set<T>();
  keys.forEach((key, index) => {
    if (seen.has(key)) report(index, key);
    else seen.add(key);
  });
}

// --- names and secrets --------------------------------------------------------

const IscsiNameSchema = z.string({ error: 'must be an iSCSI name' }).superRefine((name, ctx) => {
  const problem = iscsiNameProblem(name);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

/** TargetAlias (RFC 7143 §13.6): human-readable text of at most 255 bytes. */
const AliasSchema = z
  .string()
  .min(1, 'must not be empty')
  .refine((alias) => Buffer.byteLength(alias, 'utf8') <= 255, 'must be at most 255 bytes')
  .refine((alias) => !hasControlCharacters(alias), 'must not contain control characters');

const ChapUserSchema = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .refine((user) => Buffer.byteLength(user, 'utf8') <= 255, 'must be at most 255 bytes')
  .refine((user) => !hasControlCharacters(user), 'must not contain control characters');

/**
 * At least 12 bytes: RFC 7143 §12.1.3 requires 96-bit secrets when CHAP runs
 * without IPsec, and open-iscsi and Windows refuse shorter ones.
 */
const ChapSecretSchema = z
  .string({ error: 'must be a string' })
  .refine((secret) => Buffer.byteLength(secret, 'utf8') >= 12, 'must be at least 12 bytes (RFC 7143 §12.1.3)')
  .refine((secret) => Buffer.byteLength(secret, 'utf8') <= 255, 'must be at most 255 bytes');

const ChapAlgorithmSchema = z.literal([5, 6, 7, 8], {
  error: 'must be 5 (MD5), 6 (SHA-1), 7 (SHA-256) or 8 (SHA3-256)',
});

const AuthNoneSchema = z.strictObject({ method: z.literal('none') });

const AuthChapSchema = z
  .strictObject({
    method: z.literal('chap'),
    user: ChapUserSchema,
    secret: ChapSecretSchema,
    mutualUser: ChapUserSchema.optional(),
    mutualSecret: ChapSecretSchema.optional(),
    algorithms: z
      .array(ChapAlgorithmSchema)
      .min(1, 'must list at least one algorithm')
      .default((): ChapAlgorithm[] => [...CHAP_ALGORITHMS]),
  })
  .superRefine((auth, ctx) => {
    if (auth.mutualUser !== undefined && auth.mutualSecret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mutualSecret'], message: 'is required when mutualUser is set' });
    }
    if (auth.mutualSecret !== undefined && auth.mutualUser === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mutualUser'], message: 'is required when mutualSecret is set' });
    }
    if (auth.mutualSecret !== undefined && auth.mutualSecret === auth.secret) {
      // RFC 7143 §12.1.3: a secret used to authenticate initiators must not authenticate targets.
      ctx.addIssue({ code: 'custom', path: ['mutualSecret'], message: 'must differ from secret' });
    }
    reportDuplicates(auth.algorithms, (index, algorithm) =>
      ctx.addIssue({ code: 'custom', path: ['algorithms', index], message: `duplicate algorithm ${algorithm}` }),
    );
  });

const AuthSchema = z.discriminatedUnion('method', [AuthNoneSchema, AuthChapSchema]);

// --- backstores and LUNs ---------------------------------------------------------

/**
 * A backing file or device path. Relative paths are resolved against the
 * working directory of the process at load time (`npm start` runs from the
 * repository root, so `./data/lun0.img` is `<repo>/data/lun0.img`); the
 * resulting Config, and any file saved from it, holds absolute paths.
 */
const PathSchema = z
  .string({ error: 'must be a path' })
  .min(1, 'must not be empty')
  .refine((path) => !path.includes('\0'), 'must not contain NUL')
  .transform((path) => resolve(path));

const BlockSizeSchema = z.literal([512, 4096], { error: 'must be 512 or 4096' }).default(512);

const CapacitySchema = byteSize(1, Number.MAX_SAFE_INTEGER);

function checkMultipleOfBlockSize(store: { size: number; blockSize: number }, ctx: z.RefinementCtx): void {
  if (store.size % store.blockSize !== 0) {
    ctx.addIssue({ code: 'custom', path: ['size'], message: `must be a multiple of blockSize (${store.blockSize})` });
  }
}

/** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT is 4 bits: at most 2^15 logical blocks per physical one. */
function checkPhysicalBlockSize(store: { blockSize: number; physicalBlockSize?: number | undefined }, ctx: z.RefinementCtx): void {
  const pbs = store.physicalBlockSize;
  if (pbs === undefined) return;
  if (!isPhysicalBlockSize(store.blockSize, pbs)) {
    ctx.addIssue({
      code: 'custom',
      path: ['physicalBlockSize'],
      message: `must be blockSize (${store.blockSize}) times a power of two up to 32768`,
    });
  }
}

const FileBackstoreSchema = z
  .strictObject({
    type: z.literal('file'),
    path: PathSchema,
    /** Created sparse at this size when the file does not exist. */
    size: CapacitySchema,
    blockSize: BlockSizeSchema,
    /** Initial WCE bit of the caching mode page: false makes every write durable before status. */
    writeCache: z.boolean().default(true),
    /** O_DIRECT: bypass the page cache (unaligned segments are bounced). */
    direct: z.boolean().default(false),
    /** Thin provisioning: UNMAP / WRITE SAME(UNMAP) punch holes, GET LBA STATUS reports them (LBPME, LBPRZ). */
    thin: z.boolean().default(false),
    /**
     * Physical block size reported to initiators (READ CAPACITY(16) LOGICAL BLOCKS PER PHYSICAL
     * BLOCK EXPONENT, VPD B0h granularity): a power-of-two multiple of blockSize. Default: blockSize.
     */
    physicalBlockSize: z.number({ error: 'must be a number of bytes' }).int('must be a whole number').optional(),
    /**
     * When the file is created: once (the first time only: a file Scatter served before that is
     * now missing or shorter is refused, the LU stays NOT READY), always (create or grow it back
     * anyway, accepting the loss), never (it must exist).
     */
    create: z.enum(['once', 'always', 'never'], { error: 'must be once, always or never' }).default('once'),
  })
  .superRefine(checkMultipleOfBlockSize)
  .superRefine(checkPhysicalBlockSize);

const NullBackstoreSchema = z
  .strictObject({
    type: z.literal('null'),
    size: CapacitySchema,
    blockSize: BlockSizeSchema,
  })
  .superRefine(checkMultipleOfBlockSize);

/** A raw block device; its size and logical block size come from the device. */
const BlockBackstoreSchema = z.strictObject({
  type: z.literal('block'),
  path: PathSchema,
  /** Initial WCE bit of the caching mode page: false opens the device O_DSYNC (every write durable before status). */
  writeCache: z.boolean().default(true),
});

/** YAML reads an unquoted `type: null` as the null value; it can only mean the null backstore. */
function nullTypeAsString(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && 'type' in value && value.type === null) {
    return { ...value, type: 'null' };
  }
  return value;
}

const BackstoreSchema = z.preprocess(
  nullTypeAsString,
  z.discriminatedUnion('type', [FileBackstoreSchema, NullBackstoreSchema, BlockBackstoreSchema]),
);

/** Unit serial number (VPD page 80h): printable ASCII, no surrounding spaces. */
const SerialSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(32, 'must be at most 32 characters')
  .regex(/^[!-~](?:[ -~]*[!-~])?$/, 'must be printable ASCII without leading or trailing spaces');

const LunSchema = z.strictObject({
  lun: integer(0, 16383),
  backstore: BackstoreSchema,
  readOnly: z.boolean().default(false),
  /** Removable medium (INQUIRY RMB = 1): START STOP UNIT can eject / load it, PREVENT ALLOW is honoured. */
  removable: z.boolean().default(false),
  /** Defaults to a stable value derived from the target name and LUN (see defaultLunSerial). */
  serial: SerialSchema.optional(),
  /**
   * SANITIZE OVERWRITE pace in bytes per second (e.g. 50MiB), so that sanitizing one LU does not
   * starve others on the same disk; 0 = as fast as the backstore writes.
   */
  sanitizeRate: byteSize(0, Number.MAX_SAFE_INTEGER).default(0),
});

/**
 * A serial that stays the same across restarts, so that udev names and
 * multipath maps on the initiators stay put: 32 hex digits of SHA-256 over
 * the target name and the LUN.
 */
export function defaultLunSerial(iqn: string, lun: number): string {
  return createHash('sha256').update(`${iqn}\0${lun}`).digest('hex').slice(0, 32);
}

const TargetSchema = z
  .strictObject({
    iqn: IscsiNameSchema,
    alias: AliasSchema.optional(),
    auth: AuthSchema.default({ method: 'none' }),
    luns: z.array(LunSchema).default([]),
  })
  .superRefine((target, ctx) => {
    reportDuplicates(
      target.luns.map((lun) => lun.lun),
      (index, lun) => ctx.addIssue({ code: 'custom', path: ['luns', index, 'lun'], message: `duplicate LUN ${lun}` }),
    );
  })
  .transform((target) => ({
    ...target,
    luns: target.luns.map((lun) => ({ ...lun, serial: lun.serial ?? defaultLunSerial(target.iqn, lun.lun) })),
  }));

// --- transport ---------------------------------------------------------------------

const HostSchema = z
  .string({ error: 'must be an IP address' })
  .refine((host) => isIP(host) !== 0, 'must be an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::)');

const PortalSchema = z.strictObject({
  /** Loopback by default: exposing storage on the network must be a decision. */
  host: HostSchema.default('127.0.0.1'),
  port: integer(1, 65535).default(3260),
});

const DigestListSchema = z
  .array(z.enum(['CRC32C', 'None'], { error: 'must be CRC32C or None' }))
  .min(1, 'must list at least one digest')
  .superRefine((digests, ctx) =>
    reportDuplicates(digests, (index, digest) =>
      ctx.addIssue({ code: 'custom', path: [index], message: `duplicate digest ${digest}` }),
    ),
  );

/** Seconds, fractions allowed (tests use short deadlines). */
function seconds(min: number, max: number) {
  const message = `must be a number of seconds from ${min} to ${max}`;
  return z.number({ error: message }).min(min, message).max(max, message);
}

/**
 * What one initiator (or a crowd of strangers) may hold of the target: connections before login,
 * deadlines for PDUs and data the target waits for, commands and buffered bytes. See docs/security.md.
 */
const ResourceLimitsShape = {
  /** TCP connections on all portals together; when full, a new one replaces the oldest idle pre-login one. */
  maxConnections: integer(1, 65535).default(1024),
  /** Connections that have not completed login; beyond it the oldest (idle first) is dropped for the newcomer. */
  maxPreLoginConnections: integer(1, 65535).default(64),
  /** Pre-login connections from one source address (an idle crowd from one host cannot fill the budget). */
  maxPreLoginPerAddress: integer(1, 65535).default(8),
  /** Seconds a new connection may take to deliver its first Login Request. */
  firstPduTimeout: seconds(0.05, 3600).default(5),
  /** Seconds a whole login (security and operational stages) may take. */
  loginTimeout: seconds(0.05, 3600).default(15),
  /** Seconds a PDU whose first bytes arrived may take to arrive in full (slow senders are dropped). */
  pduTimeout: seconds(0.05, 3600).default(15),
  /** Seconds the initiator may leave our queued PDUs unread before the connection is dropped. */
  sendStallTimeout: seconds(0.05, 3600).default(30),
  /** Seconds a write may wait for Data-Out the target asked for (R2T) or that was announced (F=0). */
  dataOutTimeout: seconds(0.05, 3600).default(30),
  /** Immediate SCSI commands (I bit) one session may have outstanding; beyond it TASK SET FULL. */
  maxImmediateCommands: integer(1, 65535).default(16),
  /** Share of maxBufferedWriteBytes one session may hold (one command larger than it goes alone); default a quarter of it. */
  maxBufferedWriteBytesPerSession: byteSize(65_536, 64 * 1024 ** 3).optional(),
  /** Data-In read or queued for all connections together; further READs wait. */
  maxBufferedReadBytes: byteSize(65_536, 64 * 1024 ** 3).default(256 * 1024 ** 2),
  /** Data-In read or queued for one connection (its socket's backlog included); further READs wait. Default 16 MiB. */
  maxQueuedBytesPerConnection: byteSize(65_536, 64 * 1024 ** 3).optional(),
};

type ResourceLimits = z.output<z.ZodObject<typeof ResourceLimitsShape>>;

function checkResourceLimits(l: ResourceLimits & { maxBufferedWriteBytes: number }, ctx: z.RefinementCtx): void {
  const notAbove = (key: string, value: number, limitKey: string, limit: number) => {
    if (value > limit) ctx.addIssue({ code: 'custom', path: [key], message: `must not exceed ${limitKey} (${limit})` });
  };
  notAbove('maxPreLoginConnections', l.maxPreLoginConnections, 'maxConnections', l.maxConnections);
  notAbove('maxPreLoginPerAddress', l.maxPreLoginPerAddress, 'maxPreLoginConnections', l.maxPreLoginConnections);
  if (l.maxBufferedWriteBytesPerSession !== undefined) {
    notAbove('maxBufferedWriteBytesPerSession', l.maxBufferedWriteBytesPerSession, 'maxBufferedWriteBytes', l.maxBufferedWriteBytes);
  }
  if (l.maxQueuedBytesPerConnection !== undefined) {
    notAbove('maxQueuedBytesPerConnection', l.maxQueuedBytesPerConnection, 'maxBufferedReadBytes', l.maxBufferedReadBytes);
  }
  notAbove('firstPduTimeout', l.firstPduTimeout, 'loginTimeout', l.loginTimeout);
}
/**
 * Brake on CHAP guessing, per initiator name and per source address (iscsi/auth-throttle.ts):
 * each consecutive failed CHAP answer doubles the delay before the failure is answered, and
 * `lockoutAfterFailures` of them refuse every CHAP login of that name or address for `lockoutMs`.
 */
const AuthThrottleSchema = z
  .strictObject({
    failureDelayMs: integer(0, 60_000).default(1000),
    maxFailureDelayMs: integer(0, 600_000).default(30_000),
    /** 0 = never lock out. */
    lockoutAfterFailures: integer(0, 1000).default(10),
    lockoutMs: integer(0, 86_400_000).default(300_000),
  })
  .refine((t) => t.maxFailureDelayMs >= t.failureDelayMs, {
    path: ['maxFailureDelayMs'],
    message: 'must not be less than failureDelayMs',
  });

const IscsiSchema = z
  .strictObject({
    portals: z
      .array(PortalSchema)
      .min(1, 'must list at least one portal')
      .default(() => [{ host: '127.0.0.1', port: 3260 }]),
    /** Seconds between NOP-In pings on an idle connection; 0 turns them off. */
    nopInInterval: integer(0, 3600).default(15),
    /** Seconds to wait for the NOP-Out answer before dropping the connection. */
    nopInTimeout: integer(1, 3600).default(15),
    maxRecvDataSegmentLength: byteSize(512, MAX_ISCSI_LENGTH).default(262_144),
    maxBurstLength: byteSize(512, MAX_ISCSI_LENGTH).default(1_048_576),
    firstBurstLength: byteSize(512, MAX_ISCSI_LENGTH).default(262_144),
    maxOutstandingR2T: integer(1, 65535).default(8),
    immediateData: z.boolean().default(true),
    initialR2T: z.boolean().default(false),
    /** Accepted digests in order of preference. */
    headerDigest: DigestListSchema.default((): ('CRC32C' | 'None')[] => ['CRC32C', 'None']),
    dataDigest: DigestListSchema.default((): ('CRC32C' | 'None')[] => ['CRC32C', 'None']),
    /** Commands the CmdSN window allows per session (MaxCmdSN - ExpCmdSN + 1). */
    maxCmdWindow: integer(1, 65535).default(128),
    /**
     * Solicited Data-Out the target holds in memory across all sessions; past it, R2Ts for further
     * writes wait until earlier ones complete (a bound on memory, not on throughput).
     */
    maxBufferedWriteBytes: byteSize(65_536, 64 * 1024 ** 3).default(268_435_456),
    ...ResourceLimitsShape,
    authThrottle: AuthThrottleSchema.prefault({}),
  })
  .superRefine((iscsi, ctx) => {
    checkResourceLimits(iscsi, ctx);
    if (iscsi.firstBurstLength > iscsi.maxBurstLength) {
      // RFC 7143 §13.14: FirstBurstLength must not exceed MaxBurstLength.
      ctx.addIssue({
        code: 'custom',
        path: ['firstBurstLength'],
        message: `must not exceed maxBurstLength (${iscsi.maxBurstLength})`,
      });
    }
    reportDuplicates(
      iscsi.portals.map((portal) => `${portal.host.toLowerCase()}|${portal.port}`),
      (index) => {
        const portal = iscsi.portals[index];
        const where = portal === undefined ? '' : ` ${portal.host}:${portal.port}`;
        ctx.addIssue({ code: 'custom', path: ['portals', index], message: `duplicate portal${where}` });
      },
    );
  })
  .transform((iscsi) => ({
    ...iscsi,
    maxBufferedWriteBytesPerSession:
      iscsi.maxBufferedWriteBytesPerSession ?? Math.max(65_536, Math.floor(iscsi.maxBufferedWriteBytes / 4)),
    maxQueuedBytesPerConnection: iscsi.maxQueuedBytesPerConnection ?? Math.min(16 * 1024 ** 2, iscsi.maxBufferedReadBytes),
  }));

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
 * HTTP admin listener (GET /metrics, /healthz). Loopback by default: metrics
 * name targets and initiators, so exposing them must be a decision.
 */
const AdminSchema = z.strictObject(
  {
    enabled: z.boolean().default(true),
    host: HostSchema.default('127.0.0.1'),
    port: integer(1, 65535).default(9470),
  },
  { error: 'must be an object like { host: 127.0.0.1, port: 9470 } (enabled: false turns it off)' },
);

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
    targets: z.array(TargetSchema).default([]),
    /** Authentication for SendTargets discovery sessions. */
    discoveryAuth: AuthSchema.default({ method: 'none' }),
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
  });

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
export type BackstoreConfig = LunConfig['backstore'];
export type AuthConfig = z.output<typeof AuthSchema>;
export type LogLevel = Config['logLevel'];
