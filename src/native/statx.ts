/**
 * Size and link count of an open file, checked before writes to a file backstore (a truncated or
 * deleted backing file must not be written to; once per event-loop turn): statx(2) into a reused buffer,
 * cheaper than fs.fstatSync, which builds a Stats object each time, but still a few microseconds
 * a write with the koffi call (docs/benchmarks.md, 2026-12-03). Where statx is missing, fstatSync.
 */
import { fstatSync } from 'node:fs';
import { endianness } from 'node:os';
import { available, lastErrno, lazyBinding, SyscallError } from './libc.js';

export interface FileState {
  readonly size: number;
  readonly nlink: number;
}

type Statx = (dirfd: number, path: Buffer, flags: number, mask: number, buf: Buffer) => number;

const AT_EMPTY_PATH = 0x1000;
const STATX_NLINK = 0x4;
const STATX_SIZE = 0x200;
// struct statx (linux/stat.h), the same on every architecture: stx_mask u32 @0, stx_nlink u32 @16, stx_size u64 @40.
const STX_MASK = 0;
const STX_NLINK = 16;
const STX_SIZE = 40;
const ENOSYS = 38;

const buf = Buffer.alloc(256);
const EMPTY_PATH = Buffer.alloc(1);
const little = endianness() === 'LE';
const binding = lazyBinding('statx', 'libc', (lib) => lib.func('int statx(int dirfd, void *path, int flags, unsigned int mask, void *buf)') as Statx);
/** null: no statx in libc, or an old kernel without the syscall (ENOSYS): fstat from then on. */
let statx: Statx | null | undefined;

/** Throws a SyscallError (statx) or Node's error (fstat). */
export function fileState(fd: number): FileState {
  if (statx === undefined) statx = available(binding) ? binding() : null;
  if (statx) {
    const want = STATX_NLINK | STATX_SIZE;
    if (statx(fd, EMPTY_PATH, AT_EMPTY_PATH, want, buf) === 0) {
      const mask = little ? buf.readUInt32LE(STX_MASK) : buf.readUInt32BE(STX_MASK);
      if ((mask & want) === want) {
        const nlink = little ? buf.readUInt32LE(STX_NLINK) : buf.readUInt32BE(STX_NLINK);
        const size = Number(little ? buf.readBigUInt64LE(STX_SIZE) : buf.readBigUInt64BE(STX_SIZE));
        return { size, nlink };
      }
    } else {
      const errno = lastErrno();
      if (errno !== ENOSYS) throw new SyscallError('statx', errno);
      statx = null;
    }
  }
  const st = fstatSync(fd);
  return { size: st.size, nlink: st.nlink };
}
