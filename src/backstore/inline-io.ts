/**
 * Small reads and writes done inline, on the event loop, where they cannot wait for a disk.
 * Node runs every fs call in the libuv thread pool: a round trip costs ~25 µs, several times the
 * copy a 4 KiB page-cache hit needs. So a buffered file backstore first tries the syscall itself:
 *
 * - `nowait` (most file systems): preadv2 / pwritev2 with RWF_NOWAIT, which the kernel answers
 *   only from the page cache and refuses with EAGAIN when it would have to wait (a miss, writeback
 *   throttling, a lock); the rest of the request then goes to the thread pool as before.
 * - `memory` (tmpfs, ramfs, whose pages are memory and never wait for a device): plain
 *   synchronous pread(v) / pwrite(v); tmpfs refuses RWF_NOWAIT altogether.
 * - `off`: O_DIRECT files, platforms without the calls, and file systems that reject the flag.
 *
 * Only requests up to INLINE_MAX_BYTES go inline, so the loop is never held for a long copy.
 */
import { readSync, readvSync, statfsSync, writeSync, writevSync } from 'node:fs';
import { available, ERRNO, lastErrno } from '../native/libc.js';
import { IOV_MAX, RWF_NOWAIT, vectoredCalls, type VectoredCalls } from '../native/vectored-io.js';

export type InlineMode = 'nowait' | 'memory' | 'off';

export const INLINE_MAX_BYTES = 128 * 1024;

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

let calls: VectoredCalls | null | undefined;

function load(): VectoredCalls | null {
  if (calls === undefined) calls = available(vectoredCalls) ? vectoredCalls() : null;
  return calls;
}

/** What a backstore at `path` can do inline (see the module comment). */
export function inlineModeFor(path: string, direct: boolean): InlineMode {
  if (direct || load() === null) return 'off';
  try {
    const type = Number(statfsSync(path).type);
    if (type === TMPFS_MAGIC || type === RAMFS_MAGIC) return 'memory';
  } catch {
    return 'off';
  }
  return 'nowait';
}

/**
 * One backstore's inline attempts. Reads and writes are judged apart: ext4, for one, takes
 * RWF_NOWAIT on buffered reads but refuses it on buffered writes (EOPNOTSUPP); whichever the
 * file system refuses is turned off for good.
 */
export class InlineIo {
  private readMode: InlineMode;
  private writeMode: InlineMode;

  constructor(mode: InlineMode) {
    this.readMode = mode;
    this.writeMode = mode;
  }

  /** What reads and writes currently do inline. */
  get mode(): { read: InlineMode; write: InlineMode } {
    return { read: this.readMode, write: this.writeMode };
  }

  /** Bytes read inline at `offset` into `views` (0: none, do it the usual way). Never throws. */
  read(fd: number, views: readonly Buffer[], offset: number, length: number): number {
    const n = this.attempt('preadv2', this.readMode, fd, views, offset, length);
    if (n === REFUSED) this.readMode = 'off';
    return Math.max(n, 0);
  }

  /** Bytes written inline (0: none). Never throws. */
  write(fd: number, views: readonly Buffer[], offset: number, length: number): number {
    const n = this.attempt('pwritev2', this.writeMode, fd, views, offset, length);
    if (n === REFUSED) this.writeMode = 'off';
    return Math.max(n, 0);
  }

  private attempt(call: keyof VectoredCalls, mode: InlineMode, fd: number, views: readonly Buffer[], offset: number, length: number): number {
    if (mode === 'off' || length > INLINE_MAX_BYTES || views.length === 0 || views.length > IOV_MAX) return 0;
    if (mode === 'memory') return memoryTransfer(call, fd, views, offset);
    const fns = load();
    if (!fns) return 0;
    const iov = views.map((v) => ({ base: v, len: v.length }));
    const n = Number(fns[call](fd, iov, iov.length, offset, mode === 'nowait' ? RWF_NOWAIT : 0));
    if (n >= 0) return n;
    const errno = lastErrno();
    // The flag itself is refused (an old kernel, a file system without NOWAIT for this direction).
    if (errno === ERRNO.EOPNOTSUPP || errno === ERRNO.EINVAL) return REFUSED;
    // EAGAIN and every real error: the thread-pool path retries, and reports a real error properly.
    return 0;
  }
}

const REFUSED = -1;

/**
 * Memory-backed files never wait: Node's synchronous positional calls (pread / preadv and the
 * write ones, run right here rather than in the thread pool) do it without building an iovec
 * array through the FFI.
 */
function memoryTransfer(call: keyof VectoredCalls, fd: number, views: readonly Buffer[], offset: number): number {
  try {
    if (call === 'preadv2') return views.length === 1 ? readSync(fd, views[0]!, 0, views[0]!.length, offset) : readvSync(fd, views, offset);
    return views.length === 1 ? writeSync(fd, views[0]!, 0, views[0]!.length, offset) : writevSync(fd, views, offset);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EOPNOTSUPP' || code === 'EINVAL') return REFUSED;
    // Every real error: the thread-pool path retries, and reports it properly.
    return 0;
  }
}
