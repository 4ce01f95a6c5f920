/**
 * The few Linux syscalls Node does not expose, reached through koffi (DESIGN.md §3):
 * fallocate(PUNCH_HOLE | KEEP_SIZE) to deallocate (UNMAP), lseek(SEEK_DATA / SEEK_HOLE) to
 * report allocation (GET LBA STATUS). Loaded lazily; where libc or the syscall is missing every
 * call fails with an FfiUnavailableError that says why.
 */
import koffi from 'koffi';

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;

export class FfiUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FfiUnavailableError';
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

interface Libc {
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  lseek(fd: number, offset: number, whence: number): number;
}

let libc: Libc | FfiUnavailableError | undefined;

function load(): Libc {
  if (libc === undefined) {
    try {
      if (process.platform !== 'linux') throw new Error(`platform ${process.platform} has no fallocate/SEEK_DATA`);
      const lib = koffi.load('libc.so.6');
      // Synchronous calls: errno is per thread, so it is only meaningful right after a call on this thread.
      const fallocate = lib.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)') as Libc['fallocate'];
      const lseek = lib.func('int64_t lseek(int fd, int64_t offset, int whence)') as Libc['lseek'];
      libc = { fallocate, lseek };
    } catch (err) {
      libc = new FfiUnavailableError(`native file calls unavailable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  if (libc instanceof FfiUnavailableError) throw libc;
  return libc;
}

/** True when the native calls could be loaded (tests and config checks ask before relying on them). */
export function ffiAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/** Deallocate [offset, offset + length) of the file; the file size stays, the range reads as zeros. */
export function punchHole(fd: number, offset: number, length: number): void {
  if (length === 0) return;
  const { fallocate } = load();
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) !== 0) {
    throw new SyscallError('fallocate', koffi.errno());
  }
}

/**
 * Where the run that contains `offset` ends, and whether it is data (mapped) or a hole.
 * `size` bounds the answer (the file may be longer than the device).
 */
export function allocationRun(fd: number, offset: number, size: number): { mapped: boolean; end: number } {
  const { lseek } = load();
  const data = Number(lseek(fd, offset, SEEK_DATA));
  if (data < 0) {
    const errno = koffi.errno();
    // ENXIO: no data at or after offset — a hole up to the end.
    if (errno === ENXIO) return { mapped: false, end: size };
    throw new SyscallError('lseek(SEEK_DATA)', errno);
  }
  if (data > offset) return { mapped: false, end: Math.min(data, size) };
  const hole = Number(lseek(fd, offset, SEEK_HOLE));
  if (hole < 0) throw new SyscallError('lseek(SEEK_HOLE)', koffi.errno());
  return { mapped: true, end: Math.min(hole, size) };
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(koffi.os.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}
