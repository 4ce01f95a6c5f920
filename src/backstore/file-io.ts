import { readv as fsReadv, writev as fsWritev } from 'node:fs';
import { BackstoreError, type BackstoreErrorCode } from './backstore.js';
import type { Bio } from '../block/bio.js';
import { SyscallError } from './ffi.js';
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
  if (err instanceof SyscallError) return fromErrno(Object.assign(new Error(err.message), { code: err.code }), path);
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

const ERRNO_CODES: Record<string, BackstoreErrorCode> = {
  ENOSPC: 'ENOSPC',
  EDQUOT: 'ENOSPC',
  EFBIG: 'ENOSPC',
  EROFS: 'EROFS',
  EBADF: 'ECLOSED',
  EINVAL: 'EINVAL',
  ENOENT: 'EINVAL',
  EISDIR: 'EINVAL',
  EACCES: 'EINVAL',
  EPERM: 'EINVAL',
};

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

export function fromErrno(err: unknown, what: string): BackstoreError {
  if (err instanceof BackstoreError) return err;
  const code = errnoCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return new BackstoreError((code && ERRNO_CODES[code]) || 'EIO', `${what}: ${message}`, { cause: err });
}

/**
 * Read the whole bio, looping on short reads; `inline` may do all or part of it first (inline-io.ts). At end of file a sparse file reads as
 * zeros (`eof: 'zeros'`); a device must not end early (`eof: 'error'`).
 */
export async function readFully(fd: number, bio: Bio, path: string, eof: 'zeros' | 'error', inline?: InlineIo): Promise<void> {
  let views: readonly Buffer[] = bio.segments;
  let done = inline ? inline.read(fd, views, bio.offset, bio.length) : 0;
  if (done > 0) views = advance(views, done);
  while (done < bio.length) {
    const n = await preadv(fd, views, bio.offset + done);
    if (n <= 0) {
      if (eof === 'error') throw new BackstoreError('EIO', `${path}: read at ${bio.offset + done} made no progress`);
      for (const v of views) v.fill(0);
      return;
    }
    done += n;
    views = advance(views, n);
  }
}

/** Write the whole bio, looping on short writes; `inline` may do all or part of it first (inline-io.ts). */
export async function writeFully(fd: number, bio: Bio, path: string, inline?: InlineIo): Promise<void> {
  let views: readonly Buffer[] = bio.segments;
  let done = inline ? inline.write(fd, views, bio.offset, bio.length) : 0;
  if (done > 0) views = advance(views, done);
  while (done < bio.length) {
    const n = await pwritev(fd, views, bio.offset + done);
    if (n <= 0) throw new BackstoreError('EIO', `${path}: write made no progress`);
    done += n;
    views = advance(views, n);
  }
}
