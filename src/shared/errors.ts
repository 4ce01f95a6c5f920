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
  // control/ (changes to the running target)
  CONFIG_APPLY: 'a step of a config change failed; what was applied before it was undone',
  CONFIG_REFUSED: 'a config change would lose data (a shrink) and is refused whole',
  CONFIG_PERSIST: 'a config change could not be stored (the config file, or etcd in cluster mode); it was undone',
  CONFIG_PINNED: 'a config change touches a key set outside the config (the environment) and is refused whole',
  // cluster/ (cluster mode, docs/cluster.md)
  ETCD_UNAVAILABLE: 'etcd did not answer in time, or failed the call (a cluster change was not made)',
  CLUSTER_CONFIG_CONFLICT: 'another node changed the cluster config first; nothing was written (retry)',
  // admin/ (ApiProblem: each is one problem type of the REST API, docs/admin.md)
  API_VALIDATION: 'a request does not match its schema (the problem lists each field and rule)',
  API_MALFORMED: 'a request body cannot be parsed (bad JSON, bad length)',
  API_UNAUTHORIZED: 'no bearer token, or a wrong one',
  API_NOT_FOUND: 'no route, or no object, by that name',
  API_CONFLICT: 'the request conflicts with the current state',
  API_REFUSED: 'a change that would lose data (a shrink), refused whole',
  API_APPLY_FAILED: 'a step of a change failed on the running target; what was applied was undone',
  API_CLUSTER_UNAVAILABLE: 'cluster mode: etcd cannot be reached, so the change or query was not made',
  API_CONFIG_FILE_CHANGED: 'the config file changed on disk since Scatter read it; reload (SIGHUP) before changing it through the API',
  API_PERSIST_FAILED: 'a change could not be written to the config file; it was undone',
  API_PRECONDITION_FAILED: 'a precondition of the request (If-Match) does not hold',
  API_PAYLOAD_TOO_LARGE: 'a request body over the size limit',
  API_UNSUPPORTED_MEDIA_TYPE: 'a request body in a content type the route does not take',
  API_RATE_LIMITED: 'too many failed authentications from one address',
  API_INTERNAL: 'an unexpected error answering a request (logged with its stack)',
  ADMIN_TOKEN_INVALID: 'the admin token file cannot be used (too open, not a file, too short)',
  TARGET_NOT_FOUND: 'no target has that name (a run-time change named one that is not running)',
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
