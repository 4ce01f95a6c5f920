import type { AllocationRun, DiscardRange, ResizeRequest } from '../block/backstore.js';
import { BackstoreError } from '../block/backstore-error.js';
import type { Bio } from '../block/bio.js';
import { defaultLimits } from '../block/limits.js';
import { allocationRun, punchHole } from '../native/file-calls.js';
import { SyscallError } from '../native/libc.js';
import { fileState, type FileState } from '../native/statx.js';
import type { BackingRecords } from './backing-record.js';
import { FdBackstore, type FdIoStats } from './fd-backstore.js';
import { openBackingFile, type FileOpenReport, type OpenedFile } from './file-open.js';
import { fromErrno, native, nativeError, readFully, ShortTransferError } from './file-io.js';
import { InlineIo, inlineModeFor } from './inline-io.js';
import type { FileBackstoreOptions } from './options.js';
import { checkResize } from './resize.js';

export type { FileOpenReport };
export type FileBackstoreStats = FdIoStats;

/**
 * A regular file served with buffered vectored positional I/O (preadv/pwritev; small requests
 * inline, see inline-io.ts) or O_DIRECT. Created sparse at its size: nothing is written until
 * the initiator writes. A backing file truncated or deleted behind Scatter's back is a fault of
 * the medium, never zeros.
 */
export class FileBackstore extends FdBackstore {
  readonly kind = 'file' as const;
  /** Thin provisioning: discard punches holes (fallocate) so deallocated blocks read as zeros. */
  readonly thin: boolean;
  /** O_DIRECT: the page cache is bypassed. */
  readonly direct: boolean;
  readonly physicalBlockSize: number;
  /** What open() found (created, grown), for the log. */
  readonly report: FileOpenReport;
  declare readonly inline: InlineIo;
  /** Where the file's size is recorded; none for read-only LUs and unit tests. */
  private readonly records: BackingRecords | undefined;
  /** The file's size and links as seen in this event-loop turn (see checkMedium). */
  private turnState: FileState | undefined;
  private readonly forgetTurnState = (): void => {
    this.turnState = undefined;
  };

  private constructor(opts: FileBackstoreOptions, file: OpenedFile, inline: InlineIo) {
    const { path, readOnly = false, thin = false, direct = false } = opts;
    const limits = direct ? { ...defaultLimits(file.blockSize), alignment: file.blockSize } : defaultLimits(file.blockSize);
    super({ path, fh: file.fh, capacity: file.capacity, blockSize: file.blockSize, readOnly, limits, inline }, newStats());
    this.thin = thin;
    this.direct = direct;
    this.physicalBlockSize = file.physicalBlockSize;
    this.report = file.report;
    this.records = file.records;
  }

  static async open(opts: FileBackstoreOptions): Promise<FileBackstore> {
    const file = await openBackingFile(opts);
    return new FileBackstore(opts, file, new InlineIo(inlineModeFor(opts.path, opts.direct ?? false)));
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
    this.refuseIfClosed();
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
    } finally {
      // The size seen before the resize says nothing of the file after it.
      this.turnState = undefined;
    }
    return this.capacity;
  }

  /** The end of the file inside the capacity: truncated (a fault) unless it grew back meanwhile. */
  protected async readFailed(err: unknown, bio: Bio): Promise<void> {
    if (!(err instanceof ShortTransferError)) throw err;
    this.checkMedium(true);
    await readFully(this.fh.fd, bio, this.path);
  }

  /** A write that makes no progress: say why if the file is the reason (truncated, deleted). */
  protected writeFailed(err: unknown): unknown {
    if (err instanceof ShortTransferError) this.checkMedium(true);
    return err;
  }

  /**
   * Thin: fallocate(PUNCH_HOLE | KEEP_SIZE) per range, so the blocks are deallocated and read
   * back as zeros (LBPRZ). Not thin: accepted and ignored (the LU does not offer UNMAP then).
   */
  protected async deallocate(ranges: readonly DiscardRange[]): Promise<boolean> {
    if (!this.thin) return false;
    this.checkMedium();
    for (const r of ranges) native(() => punchHole(this.fh.fd, r.offset, r.length), this.path);
    return true;
  }

  /**
   * The file must still be linked and at least as long as the capacity. A write past the end of a
   * truncated file would extend it again, silently (the blocks in between would read as zeros with
   * GOOD), nor may data go to a deleted file. One statx (a few microseconds through koffi:
   * native/statx.ts) serves every write of one event-loop turn: at a deep queue a turn carries a
   * dozen writes, and a check is a snapshot in any case (the file can change right after it).
   * `fresh`: after a failed transfer, to say why, always a new statx.
   */
  protected override checkMedium(fresh = false): void {
    let st = fresh ? undefined : this.turnState;
    if (!st) {
      try {
        st = fileState(this.fh.fd);
      } catch (err) {
        throw err instanceof SyscallError ? nativeError(err, this.path) : fromErrno(err, `${this.path}: fstat`);
      }
      if (!this.turnState) setImmediate(this.forgetTurnState);
      this.turnState = st;
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
}

function newStats(): FileBackstoreStats {
  return { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, syncs: 0 };
}
