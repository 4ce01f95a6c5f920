import { readv as fsReadv, writev as fsWritev } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import { BackstoreError, type BackstoreErrorCode } from '../block/backstore-error.js';
import type { Bio } from '../block/bio.js';
import { SyscallError } from '../native/libc.js';
import type { InlineIo } from './inline-io.js';

/** I/O and errno helpers shared by the fd-backed backstores (file, block). */

/** A native call's failure as a BackstoreError (EOPNOTSUPP and friends become EIO; ENOSPC stays). */
export function native<T>(call: () => T, path: string): T {
  try {
    return call();
  } catch (err) {
    throw nativeError(err, path);
  }
}

export function nativeError(err: unknown, path: string): BackstoreError {
  if (err instanceof SyscallError) return fromErrno(err, `${path}: ${err.syscall}`);
  return new BackstoreError('EIO', `${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

// The callback API on the raw fd: FileHandle.readv/writev add a few microseconds per call.
export function preadv(fd: number, views: readonly Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => fsReadv(fd, views, position, (err, n) => (err ? reject(err) : resolve(n))));
}

export function pwritev(fd: number, views: readonly Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => fsWritev(fd, views, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Drop the first `n` bytes of a view list (after a short read or write). */
export function advance(views: readonly Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < views.length && views[i]!.length <= n) n -= views[i++]!.length;
  const rest = views.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/** Errno names by what they mean to the SCSI core; anything not here is an I/O error (EIO). */
const ERRNO_CODES: Record<string, BackstoreErrorCode> = {
  ENOSPC: 'ENOSPC',
  EDQUOT: 'ENOSPC',
  EFBIG: 'ENOSPC',
  EROFS: 'EROFS',
  EBADF: 'ECLOSED',
  EINVAL: 'EINVAL',
  EISDIR: 'EINVAL',
  ELOOP: 'EINVAL',
  ENAMETOOLONG: 'EINVAL',
  ENOENT: 'ENOENT',
  ENOTDIR: 'ENOENT',
  ENXIO: 'ENOENT',
  ENODEV: 'ENOENT',
  EACCES: 'EACCES',
  EPERM: 'EACCES',
  EBUSY: 'EBUSY',
};

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** The backstore error code an errno name stands for (EIO for every errno not listed). */
export function codeForErrno(errno: string | undefined): BackstoreErrorCode {
  return (errno !== undefined && ERRNO_CODES[errno]) || 'EIO';
}

/**
 * "no such file or directory (ENOENT)": the errno's text once. Node's own messages repeat the
 * syscall and the path ("ENOENT: no such file or directory, open '/x'"), which the caller's
 * `what` already names.
 */
export function describeErrno(err: unknown): string {
  const code = errnoCode(err);
  const errno = typeof err === 'object' && err !== null && 'errno' in err && typeof err.errno === 'number' ? err.errno : undefined;
  if (code !== undefined) {
    // Node's errno numbers are negative (uv), koffi's positive (libc).
    const text = errno !== undefined ? getSystemErrorMap().get(-Math.abs(errno))?.[1] : undefined;
    if (text) return `${text} (${code})`;
    const message = err instanceof Error ? err.message : '';
    const stripped = message.startsWith(`${code}: `) ? message.slice(code.length + 2).replace(/, \w+ '.*'$/, '') : '';
    return stripped ? `${stripped} (${code})` : code;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * A failed call as a BackstoreError: `what` (path and operation) and the errno's text, once. The
 * original error is not attached as the cause, whose message would repeat the text in every log
 * line; its errno name is kept as `errno`.
 */
export function fromErrno(err: unknown, what: string, fault?: BackstoreError['fault']): BackstoreError {
  if (err instanceof BackstoreError) return err;
  const errno = errnoCode(err);
  return new BackstoreError(codeForErrno(errno), `${what}: ${describeErrno(err)}`, { errno, fault });
}

/** Thrown by readFully / writeFully when a transfer ends early without an errno (end of file). */
export class ShortTransferError extends BackstoreError {
  constructor(
    path: string,
    readonly op: 'read' | 'write',
    /** Byte offset where no more could be transferred. */
    readonly position: number,
  ) {
    super('EIO', `${path}: ${op} at byte ${position} ended early (${op === 'read' ? 'end of file' : 'no progress'})`, {
      fault: 'short_io',
    });
  }
}

/**
 * Transfer the whole bio, looping on short transfers; `inline` may do all or part of it first
 * (inline-io.ts). A transfer that makes no progress (the end of the file before the end of the
 * bio) rejects with a ShortTransferError: inside the capacity it is a fault (a truncated file, a
 * shrunk device), never zeros.
 */
function transferFully(op: 'read' | 'write', fd: number, bio: Bio, path: string, inline: InlineIo | undefined): Promise<void> {
  const done = inline ? inline[op](fd, bio.segments, bio.offset, bio.length) : 0;
  // All of it inline (the usual case on a memory-backed file): no async frame to pay for.
  return done >= bio.length ? DONE : transferRest(op, fd, bio, path, done);
}

const DONE = Promise.resolve();

async function transferRest(op: 'read' | 'write', fd: number, bio: Bio, path: string, done: number): Promise<void> {
  const vectored = op === 'read' ? preadv : pwritev;
  let views: readonly Buffer[] = bio.segments;
  if (done > 0) views = advance(views, done);
  while (done < bio.length) {
    const n = await vectored(fd, views, bio.offset + done);
    if (n <= 0) throw new ShortTransferError(path, op, bio.offset + done);
    done += n;
    views = advance(views, n);
  }
}

export function readFully(fd: number, bio: Bio, path: string, inline?: InlineIo): Promise<void> {
  return transferFully('read', fd, bio, path, inline);
}

export function writeFully(fd: number, bio: Bio, path: string, inline?: InlineIo): Promise<void> {
  return transferFully('write', fd, bio, path, inline);
}
