import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { DiscardLimits, DiscardRange, ResizeRequest } from '../block/backstore.js';
import { BackstoreError } from '../block/backstore-error.js';
import type { Bio } from '../block/bio.js';
import { defaultLimits } from '../block/limits.js';
import { blkDiscard, blkPunchHole, blkZeroOut, blockCallsAvailable, blockGeometry } from '../native/block-ioctl.js';
import { SyscallError } from '../native/libc.js';
import { isLogicalBlockSize } from '../shared/block-size.js';
import { lowestAlignedLba, physicalBlockSizeOf } from './block-geometry.js';
import { readBlockQueueInfo, type BlockQueueInfo } from './block-sysfs.js';
import { FdBackstore, type FdIoStats } from './fd-backstore.js';
import { errnoCode, fromErrno, native, nativeError, ShortTransferError } from './file-io.js';
import type { BlockBackstoreOptions } from './options.js';
import { checkResize } from './resize.js';

export interface BlockBackstoreStats extends FdIoStats {
  discards: number;
  /** Ranges deallocated by fallocate(PUNCH_HOLE) / zeroed by BLKZEROOUT. */
  punches: number;
  zeroOuts: number;
}

/** What open() learnt of the device. */
interface DeviceFacts {
  readonly capacity: number;
  readonly blockSize: number;
  readonly physicalBlockSize: number;
  /** READ CAPACITY(16) LOWEST ALIGNED LBA, from BLKALIGNOFF. */
  readonly lowestAlignedLba: number;
  readonly queue: BlockQueueInfo;
}

/**
 * A raw block device with O_DIRECT (the page cache is bypassed, so every iovec address,
 * length and offset must be aligned to the logical block size: limits.alignment makes the
 * block layer bounce what is not) and O_EXCL (Linux refuses a second exclusive open, so two
 * LUNs cannot share a device by mistake, nor can a mounted file system be exported).
 */
export class BlockBackstore extends FdBackstore<BlockBackstoreStats> {
  readonly kind = 'block' as const;
  readonly physicalBlockSize: number;
  readonly lowestAlignedLba: number;
  readonly discardLimits: DiscardLimits;
  /** VPD B0h OPTIMAL TRANSFER LENGTH GRANULARITY (queue/minimum_io_size, at least a physical block). */
  readonly minIoSize: number;
  private readonly queue: BlockQueueInfo;
  /** Try fallocate(PUNCH_HOLE) until the device says it cannot. */
  private punchHole = true;

  private constructor(path: string, fh: FileHandle, readOnly: boolean, dsync: boolean, device: DeviceFacts) {
    const { blockSize, queue } = device;
    const limits = { ...defaultLimits(blockSize), alignment: blockSize };
    super({ path, fh, capacity: device.capacity, blockSize, readOnly, limits, dsync }, newStats());
    this.physicalBlockSize = device.physicalBlockSize;
    this.lowestAlignedLba = device.lowestAlignedLba;
    this.queue = queue;
    // LBPRZ holds where a discard leaves zeros, or where punching a hole can (write zeroes with unmap).
    this.discardLimits = {
      maxBytes: queue.discardMaxBytes,
      granularity: Math.max(blockSize, queue.discardGranularity),
      alignment: queue.discardAlignment,
      zeroes: queue.discardZeroesData || queue.writeZeroesMaxBytes > 0,
    };
    this.minIoSize = Math.max(device.physicalBlockSize, queue.minIoSize);
  }

  static async open(opts: BlockBackstoreOptions): Promise<BlockBackstore> {
    const { path, readOnly = false, writeCache = true } = opts;
    if (!blockCallsAvailable()) throw new BackstoreError('EINVAL', `${path}: block devices need the BLK* ioctls (Linux, koffi)`);
    // WCE = 0 from the start: every write will be asked durable, which O_DSYNC makes cheaper than an fdatasync each.
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
      return new BlockBackstore(path, fh, readOnly, dsync, await deviceFacts(path, fh));
    } catch (err) {
      await fh.close().catch(() => {});
      throw err instanceof BackstoreError ? err : fromErrno(err, `${path}: open`);
    }
  }

  /** The device can deallocate blocks: offer thin provisioning (UNMAP; LBPRZ where discardLimits.zeroes). */
  get thin(): boolean {
    return this.queue.discardMaxBytes > 0 && !this.readOnly;
  }

  /**
   * Online resize: re-read the device's size (BLKGETSIZE64) after it changed underneath, e.g.
   * lvextend or `losetup -c`; `to.size` is ignored. A device that shrank is refused unless
   * allowShrink, and then no new I/O goes past the new end before this resolves.
   */
  async resize(to: ResizeRequest): Promise<number> {
    this.refuseIfClosed();
    const next = this.deviceCapacity();
    checkResize(this.path, this.capacity, next, this.blockSize, to.allowShrink === true);
    const shrink = next < this.capacity;
    this.capacity = next;
    if (shrink) await this.life.idle();
    return next;
  }

  protected async readFailed(err: unknown, bio: Bio): Promise<void> {
    throw this.shrunkOr(err, bio);
  }

  protected writeFailed(err: unknown, bio: Bio): unknown {
    return this.shrunkOr(err, bio);
  }

  /**
   * Where the LU claims LBPRZ (discardLimits.zeroes) a deallocated range must read as zeros:
   * BLKDISCARD promises that only where sysfs says discard_zeroes_data = 1. Elsewhere
   * fallocate(PUNCH_HOLE) deallocates with zeros guaranteed (write zeroes with unmap), and
   * BLKZEROOUT, which writes zeros without deallocating, keeps the promise if that fails. A device
   * that can discard but not zero gets plain BLKDISCARD, and the LU claims no LBPRZ.
   */
  protected async deallocate(ranges: readonly DiscardRange[]): Promise<boolean> {
    for (const r of ranges) {
      await this.deallocateRange(r).catch((err: unknown) => {
        throw nativeError(err, this.path);
      });
    }
    this.stats.discards += ranges.length;
    return true;
  }

  private async deallocateRange(r: DiscardRange): Promise<void> {
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

  /** BLKGETSIZE64 now, in whole logical blocks. */
  private deviceCapacity(): number {
    const bytes = native(() => blockGeometry(this.fh.fd), this.path).size;
    return Math.floor(bytes / this.blockSize) * this.blockSize;
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
    let next: number;
    try {
      next = this.deviceCapacity();
    } catch {
      return err;
    }
    if (next >= this.capacity || bio.offset + bio.length <= next) return err;
    const was = this.capacity;
    this.capacity = next;
    return new BackstoreError(
      'ERANGE',
      `${this.path}: the device shrank from ${was} to ${next} bytes; bytes ${bio.offset}+${bio.length} are past its new end`,
      { fault: 'shrunk', ...(errno !== undefined ? { errno } : {}) },
    );
  }
}

/** Geometry (BLK* ioctls) and queue limits (sysfs) of the opened device. */
async function deviceFacts(path: string, fh: FileHandle): Promise<DeviceFacts> {
  const st = await fh.stat();
  if (!st.isBlockDevice()) throw new BackstoreError('EINVAL', `${path}: not a block device`);
  const g = native(() => blockGeometry(fh.fd), path);
  const lbs = g.logicalBlockSize;
  if (!isLogicalBlockSize(lbs)) throw new BackstoreError('EINVAL', `${path}: logical block size ${lbs} unsupported`);
  const capacity = Math.floor(g.size / lbs) * lbs;
  if (capacity === 0) throw new BackstoreError('EINVAL', `${path}: device is empty`);
  const pbs = physicalBlockSizeOf(lbs, g.physicalBlockSize);
  return {
    capacity,
    blockSize: lbs,
    physicalBlockSize: pbs,
    lowestAlignedLba: lowestAlignedLba(g.alignmentOffset, lbs, pbs),
    queue: await readBlockQueueInfo(st.rdev),
  };
}

function newStats(): BlockBackstoreStats {
  return { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, syncs: 0, discards: 0, punches: 0, zeroOuts: 0 };
}
