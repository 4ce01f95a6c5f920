import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Bio } from '../block/bio.js';
import { defaultLimits, type QueueLimits } from '../block/limits.js';
import type { AllocationRun, Backstore, DiscardRange, ResizeRequest } from '../block/backstore.js';
import { BackstoreError } from '../block/backstore-error.js';
import { allocationRun, fileCallsAvailable, punchHole } from '../native/file-calls.js';
import { SyscallError } from '../native/libc.js';
import { fileState, type FileState } from '../native/statx.js';
import { checkBio, checkRange, FdLifecycle } from './fd-lifecycle.js';
import { checkResize } from './resize.js';
import { errnoCode, fromErrno, native, nativeError, readFully, ShortTransferError, writeFully } from './file-io.js';
import type { BackingRecord, BackingRecords, CreatePolicy } from './backing-record.js';
import { isLogicalBlockSize, isPhysicalBlockSize } from '../shared/block-size.js';
import { InlineIo, inlineModeFor } from './inline-io.js';

export interface FileBackstoreOptions {
  readonly path: string;
  /** Capacity in bytes; required when the file does not exist. A larger size grows an existing file (sparse). */
  readonly size?: number;
  readonly blockSize?: number;
  readonly readOnly?: boolean;
  /** Write-back cache (WCE=1). When false every write is on stable storage before it resolves. */
  readonly writeCache?: boolean;
  /** Thin provisioning: discard punches holes (fallocate) so deallocated blocks read as zeros. */
  readonly thin?: boolean;
  /**
   * O_DIRECT: bypass the page cache. Addresses, lengths and offsets must then be aligned to
   * the block size (which must be at least the file system's): limits.alignment has the
   * block layer bounce whatever is not.
   */
  readonly direct?: boolean;
  /** Physical block size reported to initiators: a power-of-two multiple of blockSize (default blockSize). */
  readonly physicalBlockSize?: number;
  /**
   * Where the file's existence and size are remembered across restarts (backing-record.ts). With
   * it, a file Scatter served before that is now missing or shorter is refused (see `create`).
   */
  readonly records?: BackingRecords;
  /**
   * once (default): create the file only when Scatter never served one at this path; always:
   * also create (or grow) one that was served before and has vanished (or shrunk), accepting the
   * loss; never: the file must exist.
   */
  readonly create?: CreatePolicy;
}

/** What opening found, for the log. */
export interface FileOpenReport {
  /** The file did not exist and was created (sparse). */
  readonly created: boolean;
  /** The file was shorter than the configured size and was grown (sparse) from this many bytes. */
  readonly grownFrom: number | undefined;
  /** Size of the file when it was last served, from its record (undefined: never recorded). */
  readonly recordedSize: number | undefined;
}

/** Counters for metrics and tests. */
export interface FileBackstoreStats {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  /** fdatasync calls that completed. */
  syncs: number;
}

/**
 * A regular file served with buffered vectored positional I/O (preadv/pwritev
 * through FileHandle.readv/writev). Created sparse at its size: nothing is
 * written until the initiator writes.
 */
export class FileBackstore implements Backstore {
  readonly kind = 'file' as const;
  readonly limits: QueueLimits;
  private readonly life: FdLifecycle;
  /** Small page-cache reads and writes without the thread-pool round trip (inline-io.ts). */
  readonly inline: InlineIo;
  readonly stats: FileBackstoreStats = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, syncs: 0 };

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    /** Capacity in bytes; changes only through resize(). */
    private capacity: number,
    readonly blockSize: number,
    readonly readOnly: boolean,
    private wce: boolean,
    readonly thin: boolean,
    readonly direct: boolean,
    readonly physicalBlockSize: number,
    /** What open() found (created, grown), for the log. */
    readonly report: FileOpenReport,
    /** Where the file's size is recorded; none for read-only LUs and unit tests. */
    private readonly records: BackingRecords | undefined,
  ) {
    this.life = new FdLifecycle(path, fh);
    this.limits = direct ? { ...defaultLimits(blockSize), alignment: blockSize } : defaultLimits(blockSize);
    this.inline = new InlineIo(inlineModeFor(path, direct));
  }

  static async open(opts: FileBackstoreOptions): Promise<FileBackstore> {
    const { path, size, blockSize = 512, readOnly = false, writeCache = true, thin = false, direct = false } = opts;
    if (!isLogicalBlockSize(blockSize)) {
      throw new BackstoreError('EINVAL', `${path}: block size ${blockSize} is not a power of two >= 512`);
    }
    const physicalBlockSize = opts.physicalBlockSize ?? blockSize;
    if (!isPhysicalBlockSize(blockSize, physicalBlockSize)) {
      throw new BackstoreError('EINVAL', `${path}: physical block size ${physicalBlockSize} is not a power-of-two multiple of ${blockSize}`);
    }
    if (size !== undefined && (!Number.isSafeInteger(size) || size <= 0 || size % blockSize !== 0)) {
      throw new BackstoreError('EINVAL', `${path}: size ${size} is not a positive multiple of the block size ${blockSize}`);
    }

    if (thin && !fileCallsAvailable()) {
      throw new BackstoreError('EINVAL', `${path}: thin provisioning needs fallocate(PUNCH_HOLE) and SEEK_DATA (Linux, koffi)`);
    }
    const create = opts.create ?? 'once';
    // A read-only LU never creates, grows or writes its file: nothing to remember about it.
    const records = readOnly ? undefined : opts.records;
    const record = await records?.read(path);
    const opened = await openOrCreate(path, readOnly, size, create, record, records);
    let fh = opened.fh;
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new BackstoreError('EINVAL', `${path}: not a regular file`);
      let fileSize = st.size;
      if (record && fileSize < record.size && create !== 'always') {
        throw new BackstoreError(
          'EIO',
          `${path}: the backing file is ${fileSize} bytes, shorter than the ${record.size} bytes it had when Scatter last served it ` +
            `(recorded in ${records!.fileFor(path)}): it was truncated, and growing it back would serve zeros for the lost blocks. ` +
            'Restore the file, or set `create: always` on this backstore to grow it back anyway',
          { fault: 'truncated' },
        );
      }
      let grownFrom: number | undefined;
      if (size !== undefined && fileSize < size) {
        if (readOnly) throw new BackstoreError('EINVAL', `${path}: read-only file is smaller (${fileSize}) than size ${size}`);
        await fh.truncate(size); // grows sparse: no data blocks are written
        if (!opened.created) grownFrom = fileSize;
        fileSize = size;
      }
      // A file whose length is not a whole number of blocks serves only its whole blocks.
      const capacity = Math.floor(fileSize / blockSize) * blockSize;
      if (capacity === 0) throw new BackstoreError('EINVAL', `${path}: file is smaller than one block; give a size`);
      // Recorded once the file is as it will be served: a crash before leaves no record (a newcomer again).
      if (records && record?.size !== fileSize) await records.write(path, fileSize);
      if (direct) fh = await reopenDirect(fh, path, readOnly);
      const report = { created: opened.created, grownFrom, recordedSize: record?.size };
      return new FileBackstore(path, fh, capacity, blockSize, readOnly, writeCache, thin, direct, physicalBlockSize, report, records);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err instanceof BackstoreError ? err : fromErrno(err, `${path}: open`);
    }
  }

  get size(): number {
    return this.capacity;
  }

  get writeCache(): boolean {
    return this.wce;
  }

  /** MODE SELECT caching page (WCE). Turning the cache off does not flush; SYNCHRONIZE CACHE does. */
  setWriteCache(enabled: boolean): void {
    this.wce = enabled;
  }

  readv(bio: Bio): Promise<void> {
    return this.op(async () => {
      this.checkBio(bio);
      try {
        await readFully(this.fh.fd, bio, this.path, this.inline);
      } catch (err) {
        if (!(err instanceof ShortTransferError)) throw err;
        // The end of the file inside the capacity: truncated (a fault) unless it grew back meanwhile.
        this.checkFile();
        await readFully(this.fh.fd, bio, this.path);
      }
      this.stats.reads++;
      this.stats.bytesRead += bio.length;
    }, 'read');
  }

  writev(bio: Bio, durable: boolean): Promise<void> {
    return this.op(async () => {
      if (this.readOnly) throw new BackstoreError('EROFS', `${this.path}: read-only`);
      this.checkBio(bio);
      // A write past the end of a truncated file would extend it again, silently: the blocks in
      // between would read as zeros with GOOD. Nor may data go to a deleted file.
      this.checkFile();
      try {
        await writeFully(this.fh.fd, bio, this.path, this.inline);
      } catch (err) {
        // A write that makes no progress: say why if the file is the reason (truncated, deleted).
        if (err instanceof ShortTransferError) this.checkFile();
        throw err;
      }
      this.stats.writes++;
      this.stats.bytesWritten += bio.length;
      if (durable || !this.wce) await this.sync();
    }, 'write');
  }

  flush(): Promise<void> {
    return this.op(async () => {
      if (this.readOnly) return;
      // GOOD for SYNCHRONIZE CACHE on a deleted or truncated file would promise what is lost.
      this.checkFile();
      await this.sync();
    }, 'flush');
  }

  /**
   * Thin: fallocate(PUNCH_HOLE | KEEP_SIZE) per range, so the blocks are deallocated and read
   * back as zeros (LBPRZ). Not thin: accepted and ignored (the LU does not offer UNMAP then).
   * With the write cache off the deallocation is made durable before resolving, like a write.
   */
  discard(ranges: readonly DiscardRange[]): Promise<void> {
    return this.op(async () => {
      if (this.readOnly) throw new BackstoreError('EROFS', `${this.path}: read-only`);
      for (const r of ranges) this.checkRange(r.offset, r.length);
      if (!this.thin) return;
      this.checkFile();
      for (const r of ranges) native(() => punchHole(this.fh.fd, r.offset, r.length), this.path);
      if (!this.wce) await this.sync();
    }, 'discard');
  }

  /** SEEK_DATA / SEEK_HOLE: what the file system really holds at `offset`. */
  allocationRun(offset: number): Promise<AllocationRun> {
    let run: AllocationRun = { mapped: true, end: this.size };
    return this.op(async () => {
      this.checkRange(offset, 0);
      if (offset < this.size) run = native(() => allocationRun(this.fh.fd, offset, this.size), this.path);
    }, 'allocation').then(() => run);
  }

  /**
   * Online resize to `to.size`. Grow: ftruncate (sparse: nothing is written, the new blocks read as
   * zeros), then the new capacity. Shrink (only with allowShrink): the capacity first, so no new I/O
   * goes past the new end, then wait for I/O under way, then truncate.
   */
  async resize(to: ResizeRequest): Promise<number> {
    if (this.life.closed) throw new BackstoreError('ECLOSED', `${this.path}: closed`);
    if (this.readOnly) throw new BackstoreError('EROFS', `${this.path}: read-only, cannot be resized`);
    const next = to.size ?? this.capacity;
    checkResize(this.path, this.capacity, next, this.blockSize, to.allowShrink === true);
    try {
      // The record never says more than the file holds: recorded before a shrink, after a grow.
      if (next < this.capacity) {
        await this.records?.write(this.path, next);
        this.capacity = next;
        await this.life.idle();
        await this.fh.truncate(next);
      } else if (next > this.capacity) {
        await this.fh.truncate(next);
        await this.records?.write(this.path, next);
        this.capacity = next;
      }
    } catch (err) {
      throw fromErrno(err, `${this.path}: resize`);
    }
    return this.capacity;
  }

  /** Waits for I/O under way, makes written data durable, closes the file. */
  close(): Promise<void> {
    return this.life.close(async () => {
      if (!this.readOnly) await this.sync();
    });
  }

  private async sync(): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (err) {
      throw fromErrno(err, `${this.path}: fdatasync`, 'flush');
    }
    this.stats.syncs++;
  }

  /**
   * statx (well under a microsecond, on the event loop; native/statx.ts): the file must still be
   * linked and at least as long as the capacity. Throws the fault otherwise.
   */
  private checkFile(): void {
    let st: FileState;
    try {
      st = fileState(this.fh.fd);
    } catch (err) {
      throw err instanceof SyscallError ? nativeError(err, this.path) : fromErrno(err, `${this.path}: fstat`);
    }
    if (st.nlink === 0) {
      throw new BackstoreError(
        'EIO',
        `${this.path}: the backing file was deleted while being served (link count 0): data written to it would be lost when it is closed`,
        { fault: 'unlinked' },
      );
    }
    if (st.size < this.capacity) {
      throw new BackstoreError(
        'EIO',
        `${this.path}: the backing file is ${st.size} bytes, shorter than the LU's ${this.capacity}: it was truncated behind Scatter's back`,
        { fault: 'truncated' },
      );
    }
  }

  private op(body: () => Promise<void>, what: string): Promise<void> {
    return this.life.op(body, what);
  }

  private checkBio(bio: Bio): void {
    checkBio(this.path, this.size, bio);
  }

  private checkRange(offset: number, length: number): void {
    checkRange(this.path, this.size, offset, length);
  }
}

async function openOrCreate(
  path: string,
  readOnly: boolean,
  size: number | undefined,
  create: CreatePolicy,
  record: BackingRecord | undefined,
  records: BackingRecords | undefined,
): Promise<{ fh: FileHandle; created: boolean }> {
  try {
    return { fh: await open(path, readOnly ? 'r' : 'r+'), created: false };
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' || readOnly || size === undefined) throw fromErrno(err, `${path}: open`);
    if (create === 'never') throw fromErrno(err, `${path}: open (create: never)`);
    if (record && create !== 'always') {
      throw new BackstoreError(
        'ENOENT',
        `${path}: the backing file is gone, but Scatter served it before (${record.size} bytes, recorded in ${records!.fileFor(path)}); ` +
          'an empty new file would hide the loss. Restore the file, or set `create: always` on this backstore to start over with an empty one',
        { errno: 'ENOENT' },
      );
    }
  }
  try {
    // The directory (e.g. ./data on first start) is created with the file.
    await mkdir(dirname(path), { recursive: true });
    return { fh: await open(path, 'wx+'), created: true }; // exclusive: never truncate a file someone else just created
  } catch (err) {
    throw fromErrno(err, `${path}: create`);
  }
}

/** Created and sized through the ordinary open; served through a second, O_DIRECT one. */
async function reopenDirect(fh: FileHandle, path: string, readOnly: boolean): Promise<FileHandle> {
  await fh.close();
  try {
    return await open(path, (readOnly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_DIRECT);
  } catch (err) {
    throw fromErrno(err, `${path}: open O_DIRECT (the file system may not support it)`);
  }
}
