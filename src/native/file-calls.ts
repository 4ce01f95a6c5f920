/**
 * The file syscalls Node does not expose: fallocate(PUNCH_HOLE | KEEP_SIZE) to deallocate
 * (UNMAP), lseek(SEEK_DATA / SEEK_HOLE) to report allocation (GET LBA STATUS).
 */
import { type KoffiFunc } from 'koffi';
import { available, lastErrno, lazyBinding, SyscallError } from './libc.js';

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;

/** fallocate(2) mode that deallocates a range and keeps the file (or device) size. */
export const PUNCH_HOLE_MODE = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

interface FileCalls {
  // Called synchronously (errno is per thread) or on koffi's worker with `.async` (block devices).
  fallocate: KoffiFunc<(fd: number, mode: number, offset: number, length: number) => number>;
  lseek: (fd: number, offset: number, whence: number) => number;
}

export const fileCalls = lazyBinding<FileCalls>('native file calls', 'libc', (lib) => ({
  fallocate: lib.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)') as FileCalls['fallocate'],
  lseek: lib.func('int64_t lseek(int fd, int64_t offset, int whence)') as FileCalls['lseek'],
}));

/** True when fallocate and lseek could be bound. */
export function fileCallsAvailable(): boolean {
  return available(fileCalls);
}

/** Deallocate [offset, offset + length) of the file; the file size stays, the range reads as zeros. */
export function punchHole(fd: number, offset: number, length: number): void {
  if (length === 0) return;
  const { fallocate } = fileCalls();
  if (fallocate(fd, PUNCH_HOLE_MODE, offset, length) !== 0) throw new SyscallError('fallocate', lastErrno());
}

/**
 * Where the run that contains `offset` ends, and whether it is data (mapped) or a hole.
 * `size` bounds the answer (the file may be longer than the device).
 */
export function allocationRun(fd: number, offset: number, size: number): { mapped: boolean; end: number } {
  const { lseek } = fileCalls();
  const data = Number(lseek(fd, offset, SEEK_DATA));
  if (data < 0) {
    const errno = lastErrno();
    // ENXIO: no data at or after offset — a hole up to the end.
    if (errno === ENXIO) return { mapped: false, end: size };
    throw new SyscallError('lseek(SEEK_DATA)', errno);
  }
  if (data > offset) return { mapped: false, end: Math.min(data, size) };
  const hole = Number(lseek(fd, offset, SEEK_HOLE));
  if (hole < 0) throw new SyscallError('lseek(SEEK_HOLE)', lastErrno());
  return { mapped: true, end: Math.min(hole, size) };
}
