import { ScatterError } from '../shared/errors.js';
/**
 * What went wrong, as the SCSI core needs to tell it apart: EIO (the medium failed), ENOSPC (no space),
 * EROFS (read-only), EINVAL (a bad request or configuration), ECLOSED (closed under the caller),
 * ENOENT (the path or device does not exist: ENOENT, ENOTDIR, ENXIO, ENODEV), EACCES (no permission:
 * EACCES, EPERM), EBUSY (in use, e.g. a mounted device), ERANGE (past the device's end).
 */
export type BackstoreErrorCode = 'EIO' | 'ENOSPC' | 'EROFS' | 'EINVAL' | 'ECLOSED' | 'ENOENT' | 'EACCES' | 'EBUSY' | 'ERANGE';

/**
 * A fault of the medium beyond its errno, for the LU's state, the log and the metrics:
 * - truncated: the backing file is now shorter than the LU's capacity;
 * - unlinked: the backing file was deleted (st_nlink 0): what is written to it is lost at close;
 * - short_io: a read or write ended early without an errno;
 * - flush: fdatasync failed (the kernel may have dropped the dirty pages: see BlockQueue);
 * - shrunk: a block device is now smaller than the LU's capacity.
 */
export type BackstoreFault = 'truncated' | 'unlinked' | 'short_io' | 'flush' | 'shrunk';

export interface BackstoreErrorOptions {
  readonly cause?: unknown;
  /** The errno name of the failed call (EIO, ENOSPC, ENOTDIR ...), when there was one. */
  readonly errno?: string | undefined;
  readonly fault?: BackstoreFault | undefined;
}

export class BackstoreError extends ScatterError<BackstoreErrorCode> {
  readonly errno: string | undefined;
  readonly fault: BackstoreFault | undefined;

  constructor(code: BackstoreErrorCode, message: string, options?: BackstoreErrorOptions) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.errno = options?.errno;
    this.fault = options?.fault;
  }
}
