/**
 * The one door to libc (DESIGN.md §3): koffi loads it here and nowhere else, lazily, for the few
 * calls Node does not expose. Two symbol scopes:
 * - `libc`: libc.so.6 itself (fallocate, lseek, ioctl, statx, posix_memalign);
 * - `process`: the process's own scope (RTLD_DEFAULT), where Node's own libc calls resolve, so
 *   that an LD_PRELOAD interposer (fault injection, tracing) sees these calls too.
 * A binding that cannot be made (not Linux, a missing symbol) fails every use with a
 * NativeUnavailableError that says why; callers that have a fallback ask `available` first.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { ScatterError } from '../shared/errors.js';

export type { LibraryHandle };
export type LibcScope = 'libc' | 'process';

export class NativeUnavailableError extends ScatterError<'NATIVE_UNAVAILABLE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NATIVE_UNAVAILABLE', message, options);
  }
}

/** A failed syscall, with its errno name when koffi knows it (EOPNOTSUPP, EBADF, ...). */
export class SyscallError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    super(`${syscall} failed: ${errnoName(errno)}`);
    this.name = 'SyscallError';
  }

  get code(): string {
    return errnoName(this.errno);
  }
}

/** errno of the last native call on this thread: meaningful only right after a synchronous call. */
export function lastErrno(): number {
  return koffi.errno();
}

/** errno values by name (EAGAIN, EOPNOTSUPP ...), as libc defines them on this platform. */
export const ERRNO: Readonly<Record<string, number>> = koffi.os.errno;

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(ERRNO)) if (value === errno) return name;
  return `errno ${errno}`;
}

const handles = new Map<LibcScope, LibraryHandle>();

function library(scope: LibcScope): LibraryHandle {
  if (process.platform !== 'linux') throw new Error(`platform ${process.platform} has no Linux libc`);
  let lib = handles.get(scope);
  if (!lib) {
    lib = koffi.load(scope === 'libc' ? 'libc.so.6' : null);
    handles.set(scope, lib);
  }
  return lib;
}

/**
 * Native functions bound on first use by `bind`; the outcome (functions or the reason they are
 * unavailable) is kept, so a missing symbol is looked for once.
 */
export function lazyBinding<T>(what: string, scope: LibcScope, bind: (lib: LibraryHandle) => T): () => T {
  let bound: T | NativeUnavailableError | undefined;
  return () => {
    if (bound === undefined) {
      try {
        bound = bind(library(scope));
      } catch (err) {
        bound = new NativeUnavailableError(`${what} unavailable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    if (bound instanceof NativeUnavailableError) throw bound;
    return bound;
  };
}

/** True when `binding` can be made (tests and config checks ask before relying on it). */
export function available(binding: () => unknown): boolean {
  try {
    binding();
    return true;
  } catch {
    return false;
  }
}

/** The view of a native pointer as an ArrayBuffer of `bytes` (no copy). */
export function nativeView(pointer: unknown, bytes: number): ArrayBuffer {
  return koffi.view(pointer, bytes);
}

/** The real address of a buffer's first byte. */
export function addressOf(buf: Buffer): bigint {
  return koffi.address(buf);
}

/** A C struct type, for functions taking one (e.g. struct iovec). */
export const struct = koffi.struct;
export const pointer = koffi.pointer;
