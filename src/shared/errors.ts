/**
 * Every code Scatter's own errors carry, in one place (the fastify / undici style): logs, metrics
 * and the admin API name a cause by it, and it does not change when a message is reworded. Each
 * layer's error class narrows `code` to its own part of this list.
 */
export const ERROR_CODES = {
  // config/
  CONFIG_INVALID: 'the configuration does not validate (the message names each field)',
  SIZE_INVALID: 'a size is not a whole byte count with a known unit',
  CONFIG_CHANGED: 'the config file was changed on disk since Scatter last read or wrote it (reread it first)',
  CONFIG_PATCH_UNSUPPORTED: "a change cannot be spliced into the config file's text (the file is rewritten whole)",
  // native/
  NATIVE_UNAVAILABLE: 'a libc call Node lacks cannot be bound (not Linux, or koffi missing)',
  // block/ (BlockError: what the SCSI core maps to sense)
  POOL_EXHAUSTED: 'no bounce pool pages within memory.poolWaitMs',
  IO_ERROR: 'the backstore failed the I/O',
  NO_SPACE: 'the backstore ran out of space',
  READ_ONLY: 'a write to a read-only device',
  OUT_OF_RANGE: 'an I/O past the device capacity',
  ABORTED: 'the request was cancelled',
  OFFLINE: 'the LU is offline after a fault below it',
  // backstore (BackstoreError: the errno class of a fault of the medium)
  EIO: 'input/output error',
  ENOSPC: 'no space left (or quota, or file too large)',
  EROFS: 'read-only file system or device',
  EINVAL: 'invalid argument or range',
  ECLOSED: 'the backstore is closed',
  ENOENT: 'the backing file or device is not there',
  EACCES: 'permission denied',
  EBUSY: 'the device is in use',
  ERANGE: 'beyond the backing file or device',
  // scsi/ (ScsiError)
  LUN_EXISTS: 'an LU is added with a LUN already in use',
  LUN_NOT_FOUND: 'no LU has that LUN',
  NOT_RESIZABLE: "the LU's device cannot change its capacity",
  DUPLICATE_OPCODE: 'two handlers of a device type claim the same opcode',
  SANITIZE_BUSY: 'a sanitize operation is already in progress',
  SANITIZE_MARKER: 'the marker of a running sanitize cannot be written or removed',
  SANITIZE_FAILED: 'a sanitize operation failed',
  PR_STATE_INVALID: 'a persistent reservation state file cannot be read back',
  INTERNAL: 'a broken invariant (a bug)',
  // iscsi/
  LOGIN_FAILED: 'a login was refused (status and reason on the error)',
  DUPLICATE_KEY: 'a text key negotiated twice',
  NO_COMMON_VALUE: 'no value of a key both sides accept',
  MISSING_KEY: 'a key that must be negotiated was not',
  AHS_INVALID: "a SCSI Command's additional header segments are malformed",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The base of Scatter's own errors: a stable `code` from ERROR_CODES and the class's name. */
export class ScatterError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
