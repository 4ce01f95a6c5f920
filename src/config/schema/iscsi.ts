/** The iSCSI transport: portals, negotiated parameters, resource limits and the CHAP brake. */
import { z } from 'zod';
import { HostSchema, MAX_ISCSI_LENGTH, byteSize, integer, reportDuplicates, seconds } from './fields.js';
import { DEFAULT_PORTAL_PORT } from '../env-vars.js';

export const PortalSchema = z.strictObject({
  /** Loopback by default: exposing storage on the network must be a decision. */
  host: HostSchema.default('127.0.0.1'),
  port: integer(1, 65535).default(DEFAULT_PORTAL_PORT),
});

const DigestListSchema = z
  .array(z.enum(['CRC32C', 'None'], { error: 'must be CRC32C or None' }))
  .min(1, 'must list at least one digest')
  .superRefine((digests, ctx) =>
    reportDuplicates(digests, (index, digest) =>
      ctx.addIssue({ code: 'custom', path: [index], message: `duplicate digest ${digest}` }),
    ),
  );

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

export const IscsiSchema = z
  .strictObject({
    portals: z
      .array(PortalSchema)
      .min(1, 'must list at least one portal')
      .default(() => [{ host: '127.0.0.1', port: DEFAULT_PORTAL_PORT }]),
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

