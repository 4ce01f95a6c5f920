import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Bio } from '../block/bio.js';
import { defaultLimits, type QueueLimits } from '../block/limits.js';
import type { Backstore, DiscardLimits, DiscardRange, ResizeRequest } from '../block/backstore.js';
import { BackstoreError } from '../block/backstore-error.js';
import { blkDiscard, blkPunchHole, blkZeroOut, blockCallsAvailable, blockGeometry } from '../native/block-ioctl.js';
import { SyscallError } from '../native/libc.js';
import { lowestAlignedLba, physicalBlockSizeOf } from './block-geometry.js';
import { readBlockQueueInfo, type BlockQueueInfo } from './block-sysfs.js';
import { checkBio, checkRange, FdLifecycle } from './fd-lifecycle.js';
import { checkResize } from './resize.js';
import { errnoCode, fromErrno, native, nativeError, readFully, ShortTransferError, writeFully } from './file-io.js';

export interface BlockBackstoreOptions {
  /** A block device: /dev/sdX, /dev/loopN, /dev/mapper/... */
  readonly path: string;
  readonly readOnly?: boolean;
  /** Write-back cache (WCE=1). When false the device is opened O_DSYNC. */
  readonly writeCache?: boolean;
}

export interface BlockBackstoreStats {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  syncs: number;
  discards: number;
  /** Ranges deallocated by fallocate(PUNCH_HOLE) / zeroed by BLKZEROOUT. */
  punches: number;
  zeroOuts: number;
}

/**
 * A raw block device with O_DIRECT (the page cache is bypassed, so every iovec address,
 * length and offset must be aligned to the logical block size: limits.alignment makes the
 * block layer bounce what is not) and O_EXCL (Linux refuses a second exclusive open, so two
 * LUNs cannot share a device by mistake, nor can a mounted file system be exported).
 */
export class BlockBackstore implements Backstore {
  readonly kind = 'block' as const;
  readonly limits: QueueLimits;
  private readonly life: FdLifecycle;
  readonly stats: BlockBackstoreStats = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, syncs: 0, discards: 0, punches: 0, zeroOuts: 0 };
  /** Try fallocate(PUNCH_HOLE) until the device says it cannot. */
  private punchHole = true;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    /** Capacity in bytes; changes only through resize(). */
    private capacity: number,
    readonly blockSize: number,
    readonly physicalBlockSize: number,
    /** READ CAPACITY(16) LOWEST ALIGNED LBA, from BLKALIGNOFF. */
    readonly lowestAlignedLba: number,
    readonly readOnly: boolean,
    private wce: boolean,
    /** The fd was opened O_DSYNC: every write is durable already. */
    private readonly dsync: boolean,
    private readonly queue: BlockQueueInfo,
  ) {
    this.life = new FdLifecycle(path, fh);
    this.limits = { ...defaultLimits(blockSize), alignment: blockSize };
    // LBPRZ holds where a discard leaves zeros, or where punching a hole can (write zeroes with unmap).
    this.discardLimits = {
      maxBytes: queue.discardMaxBytes,
      granularity: Math.max(blockSize, queue.discardGranularity),
      alignment: queue.discardAlignment,
      zeroes: queue.discardZeroesData || queue.writeZeroesMaxBytes > 0,
    };
    this.minIoSize = Math.max(physicalBlockSize, queue.minIoSize);
  }

  readonly discardLimits: DiscardLimits;
  /** VPD B0h OPTIMAL TRANSFER LENGTH GRANULARITY (queue/minimum_io_size, at least a physical block). */
  readonly minIoSize: number;

  static async open(opts: BlockBackstoreOptions): Promise<BlockBackstore> {
    const { path, readOnly = false, writeCache = true } = opts;
    if (!blockCallsAvailable()) throw new BackstoreError('EINVAL', `${path}: block devices need the BLK* ioctls (Linux, koffi)`);
    const dsync = !writeCache && !readOnly;
    const flags =
      (readOnly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_DIRECT | constants.O_EXCL | (dsync ? constants.O_DSYNC : 0);
    let fh: FileHandle;
    try {
      fh = await open(path, flags);
    } catch (err) {
      throw fromErrno(err, `${path}: open (O_DIRECT | O_EXCL)`);
    }
    try {
      const st = await fh.stat();
      if (!st.isBlockDevice()) throw new BackstoreError('EINVAL', `${path}: not a block device`);
      const g = native(() => blockGeometry(fh.fd), path);
      const lbs = g.logicalBlockSize;
      if (lbs < 512 || (lbs & (lbs - 1)) !== 0) throw new BackstoreError('EINVAL', `${path}: logical block size ${lbs} unsupported`);
      const capacity = Math.floor(g.size / lbs) * lbs;
      if (capacity === 0) throw new BackstoreError('EINVAL', `${path}: device is empty`);
      const pbs = physicalBlockSizeOf(lbs, g.physicalBlockSize);
      const queue = await readBlockQueueInfo(st.rdev);
      return new BlockBackstore(path, fh, capacity, lbs, pbs, lowestAlignedLba(g.alignmentOffset, lbs, pbs), readOnly, writeCache, dsync, queue);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err instanceof BackstoreError ? err : fromErrno(err, `${path}: open`);
    }
  }

  /** The device can deallocate blocks: offer thin provisioning (UNMAP; LBPRZ where discardLimits.zeroes). */
  get canDiscard(): boolean {
    return this.queue.discardMaxBytes > 0 && !this.readOnly;
  }

  get size(): number {
    return this.capacity;
  }

  get writeCache(): boolean {
    return this.wce;
  }

  setWriteCache(enabled: boolean): void {
    this.wce = enabled;
  }

  readv(bio: Bio): Promise<void> {
    return this.op(async () => {
      this.checkBio(bio);
      try {
        await readFully(this.fh.fd, bio, this.path);
      } catch (err) {
        throw this.shrunkOr(err, bio);
      }
      this.stats.reads++;
      this.stats.bytesRead += bio.length;
    }, 'read');
  }

  writev(bio: Bio, durable: boolean): Promise<void> {
    return this.op(async () => {
      if (this.readOnly) throw new BackstoreError('EROFS', `${this.path}: read-only`);
      this.checkBio(bio);
      try {
        await writeFully(this.fh.fd, bio, this.path);
      } catch (err) {
        throw this.shrunkOr(err, bio);
      }
      this.stats.writes++;
      this.stats.bytesWritten += bio.length;
      // O_DIRECT skips the page cache but not the device's own cache: durability still needs a flush.
      if ((durable || !this.wce) && !this.dsync) await this.sync();
    }, 'write');
  }

  flush(): Promise<void> {
    return this.op(async () => {
      if (!this.readOnly) await this.sync();
    }, 'flush');
  }

  /**
   * Where the LU claims LBPRZ (discardLimits.zeroes) a deallocated range must read as zeros:
   * BLKDISCARD promises that only where sysfs says discard_zeroes_data = 1. Elsewhere
   * fallocate(PUNCH_HOLE) deallocates with zeros guaranteed (write zeroes with unmap), and
   * BLKZEROOUT, which writes zeros without deallocating, keeps the promise if that fails. A device
   * that can discard but not zero gets plain BLKDISCARD, and the LU claims no LBPRZ.
   */
  discard(ranges: readonly DiscardRange[]): Promise<void> {
    return this.op(async () => {
      if (this.readOnly) throw new BackstoreError('EROFS', `${this.path}: read-only`);
      for (const r of ranges) this.checkRange(r.offset, r.length);
      for (const r of ranges) {
        await this.deallocate(r).catch((err: unknown) => {
          throw nativeError(err, this.path);
        });
      }
      this.stats.discards += ranges.length;
      if (!this.wce && !this.dsync) await this.sync();
    }, 'discard');
  }

  private async deallocate(r: DiscardRange): Promise<void> {
    if (this.queue.discardZeroesData || !this.discardLimits.zeroes) return blkDiscard(this.fh.fd, r.offset, r.length);
    if (this.punchHole) {
      try {
        await blkPunchHole(this.fh.fd, r.offset, r.length);
        this.stats.punches++;
        return;
      } catch (err) {
        if (!(err instanceof SyscallError) || (err.code !== 'EOPNOTSUPP' && err.code !== 'ENOTSUP')) throw err;
        this.punchHole = false; // the device cannot: zero it out from now on
      }
    }
    await blkZeroOut(this.fh.fd, r.offset, r.length);
    this.stats.zeroOuts++;
  }

  /**
   * Online resize: re-read the device's size (BLKGETSIZE64) after it changed underneath, e.g.
   * lvextend or `losetup -c`; `to.size` is ignored. A device that shrank is refused unless
   * allowShrink, and then no new I/O goes past the new end before this resolves.
   */
  async resize(to: ResizeRequest): Promise<number> {
    if (this.life.closed) throw new BackstoreError('ECLOSED', `${this.path}: closed`);
    const bytes = native(() => blockGeometry(this.fh.fd), this.path).size;
    const next = Math.floor(bytes / this.blockSize) * this.blockSize;
    checkResize(this.path, this.capacity, next, this.blockSize, to.allowShrink === true);
    const shrink = next < this.capacity;
    this.capacity = next;
    if (shrink) await this.life.idle();
    return next;
  }

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
   * The device ends before the bio does (ENOSPC from a write at its end, a read that ends early):
   * it may have shrunk underneath (lvreduce, `losetup -c`). Then the size is re-read and adopted,
   * so new I/O past it fails the range check, and the error says so (LBA OUT OF RANGE, and the
   * LU raises CAPACITY DATA HAS CHANGED), rather than SPACE ALLOCATION FAILED or a medium error.
   */
  private shrunkOr(err: unknown, bio: Bio): unknown {
    const errno = err instanceof BackstoreError ? err.errno : errnoCode(err);
    if (!(err instanceof ShortTransferError) && errno !== 'ENOSPC') return err;
    let bytes: number;
    try {
      bytes = native(() => blockGeometry(this.fh.fd), this.path).size;
    } catch {
      return err;
    }
    const next = Math.floor(bytes / this.blockSize) * this.blockSize;
    if (next >= this.capacity || bio.offset + bio.length <= next) return err;
    const was = this.capacity;
    this.capacity = next;
    return new BackstoreError(
      'ERANGE',
      `${this.path}: the device shrank from ${was} to ${next} bytes; bytes ${bio.offset}+${bio.length} are past its new end`,
      { fault: 'shrunk', ...(errno !== undefined ? { errno } : {}) },
    );
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
