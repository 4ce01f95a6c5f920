import type { FileHandle } from 'node:fs/promises';
import type { Backstore, DiscardRange } from '../block/backstore.js';
import { BackstoreError } from '../block/backstore-error.js';
import type { Bio } from '../block/bio.js';
import type { QueueLimits } from '../block/limits.js';
import { checkBio, checkRange, FdLifecycle } from './fd-lifecycle.js';
import { fromErrno, readFully, writeFully } from './file-io.js';
import type { InlineIo } from './inline-io.js';

/** Counters for metrics and tests. */
export interface FdIoStats {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  /** fdatasync calls that completed. */
  syncs: number;
}

export interface FdBackstoreInit {
  readonly path: string;
  readonly fh: FileHandle;
  /** Capacity in bytes; changes only through resize(). */
  readonly capacity: number;
  readonly blockSize: number;
  readonly readOnly: boolean;
  readonly limits: QueueLimits;
  /** The fd was opened O_DSYNC: every write is durable already, a durable one needs no fdatasync. */
  readonly dsync?: boolean;
  /** Small page-cache reads and writes without the thread-pool round trip (inline-io.ts). */
  readonly inline?: InlineIo;
}

/**
 * What the fd-backed backstores (file, block) share: vectored positional I/O looping on short
 * transfers, the range checks, fdatasync when a request asks for durability, and the lifecycle
 * (every operation tracked, so close() waits for I/O under way and nothing starts after it). Each
 * kind says what its medium's faults look like (a truncated file, a shrunk device) and how it
 * deallocates.
 */
export abstract class FdBackstore<S extends FdIoStats = FdIoStats> implements Backstore {
  abstract readonly kind: 'file' | 'block';
  abstract readonly thin: boolean;
  readonly keepsData = true;
  readonly path: string;
  readonly blockSize: number;
  readonly readOnly: boolean;
  readonly limits: QueueLimits;
  protected readonly fh: FileHandle;
  protected readonly life: FdLifecycle;
  protected capacity: number;
  private readonly dsync: boolean;
  /** Small page-cache reads and writes without the thread-pool round trip (inline-io.ts). */
  readonly inline: InlineIo | undefined;

  protected constructor(
    init: FdBackstoreInit,
    readonly stats: S,
  ) {
    this.path = init.path;
    this.fh = init.fh;
    this.capacity = init.capacity;
    this.blockSize = init.blockSize;
    this.readOnly = init.readOnly;
    this.limits = init.limits;
    this.dsync = init.dsync ?? false;
    this.inline = init.inline;
    this.life = new FdLifecycle(init.path, init.fh);
  }

  get size(): number {
    return this.capacity;
  }

  // readv and writev chain promises rather than await: they run for every bio, and each async
  // frame costs a promise and a microtask even when the I/O was done inline.
  readv(bio: Bio): Promise<void> {
    return this.op(() => {
      this.checkBio(bio);
      const counted = (): void => {
        this.stats.reads++;
        this.stats.bytesRead += bio.length;
      };
      return readFully(this.fh.fd, bio, this.path, this.inline).then(counted, (err: unknown) => this.readFailed(err, bio).then(counted));
    }, 'read');
  }

  writev(bio: Bio, durable: boolean): Promise<void> {
    return this.op(() => {
      this.refuseIfReadOnly();
      this.checkBio(bio);
      this.checkMedium();
      const written = writeFully(this.fh.fd, bio, this.path, this.inline).then(
        () => {
          this.stats.writes++;
          this.stats.bytesWritten += bio.length;
        },
        (err: unknown) => {
          throw this.writeFailed(err, bio);
        },
      );
      return durable ? written.then(() => this.syncUnlessDsync()) : written;
    }, 'write');
  }

  flush(): Promise<void> {
    return this.op(async () => {
      if (this.readOnly) return;
      // GOOD for SYNCHRONIZE CACHE on a medium that lost data would promise what is lost.
      this.checkMedium(true);
      await this.sync();
    }, 'flush');
  }

  discard(ranges: readonly DiscardRange[], durable = false): Promise<void> {
    return this.op(async () => {
      this.refuseIfReadOnly();
      for (const r of ranges) this.checkRange(r.offset, r.length);
      if ((await this.deallocate(ranges)) && durable) await this.syncUnlessDsync();
    }, 'discard');
  }

  /** Waits for I/O under way, makes written data durable, closes the fd. */
  close(): Promise<void> {
    return this.life.close(async () => {
      if (!this.readOnly) await this.sync();
    });
  }

  /** A read that failed (or ended early): rethrow what it means for this medium, or complete the read. */
  protected abstract readFailed(err: unknown, bio: Bio): Promise<void>;

  /** The error a failed (or short) write stands for on this medium. */
  protected abstract writeFailed(err: unknown, bio: Bio): unknown;

  /** Deallocate checked ranges; false when the backstore left them as they are (not thin). */
  protected abstract deallocate(ranges: readonly DiscardRange[]): Promise<boolean>;

  /** Throws the fault when the medium can no longer be written safely (before writes and flushes); `fresh`: no cached answer. */
  protected checkMedium(_fresh?: boolean): void {}

  protected async sync(): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (err) {
      throw fromErrno(err, `${this.path}: fdatasync`, 'flush');
    }
    this.stats.syncs++;
  }

  protected op(body: () => Promise<void>, what: string): Promise<void> {
    return this.life.op(body, what);
  }

  protected checkRange(offset: number, length: number): void {
    checkRange(this.path, this.size, offset, length);
  }

  /** A resize (or another call outside op()) once close() has begun. */
  protected refuseIfClosed(): void {
    if (this.life.closed) throw new BackstoreError('ECLOSED', `${this.path}: closed`);
  }

  private refuseIfReadOnly(): void {
    if (this.readOnly) throw new BackstoreError('EROFS', `${this.path}: read-only`);
  }

  private syncUnlessDsync(): Promise<void> {
    return this.dsync ? Promise.resolve() : this.sync();
  }

  private checkBio(bio: Bio): void {
    checkBio(this.path, this.size, bio);
  }
}
