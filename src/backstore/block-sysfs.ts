/**
 * What Linux sysfs says about a block device's queue: discard and write-zeroes limits and the
 * smallest efficient I/O. A partition has no queue of its own (its disk's is one level up) but
 * has its own discard_alignment. Missing files read as 0: a kernel that does not say, cannot.
 */
import { readFile } from 'node:fs/promises';

export interface BlockQueueInfo {
  /** queue/discard_max_bytes: 0 = no discard. */
  readonly discardMaxBytes: number;
  /** queue/discard_granularity, in bytes. */
  readonly discardGranularity: number;
  /** discard_alignment of the device or partition, in bytes. */
  readonly discardAlignment: number;
  /** queue/discard_zeroes_data: BLKDISCARD leaves zeros (always 0 since Linux 4.12). */
  readonly discardZeroesData: boolean;
  /** queue/write_zeroes_max_bytes: > 0 = the device zeroes (and may deallocate) without writing every block. */
  readonly writeZeroesMaxBytes: number;
  /** queue/minimum_io_size, in bytes. */
  readonly minIoSize: number;
}

/** /sys/dev/block/MAJ:MIN of a device number (glibc's dev_t: major in bits 8..19, minor in 0..7 and 20..31). */
export function sysfsDeviceDir(rdev: number): string {
  return `/sys/dev/block/${(rdev >>> 8) & 0xfff}:${(rdev & 0xff) | ((rdev >>> 12) & 0xfff00)}`;
}

async function readNumber(paths: readonly string[]): Promise<number> {
  for (const path of paths) {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text !== undefined) return Number.parseInt(text.trim(), 10) || 0;
  }
  return 0;
}

export async function readBlockQueueInfo(rdev: number): Promise<BlockQueueInfo> {
  const dev = sysfsDeviceDir(rdev);
  const queue = (name: string): Promise<number> => readNumber([`${dev}/queue/${name}`, `${dev}/../queue/${name}`]);
  return {
    discardMaxBytes: await queue('discard_max_bytes'),
    discardGranularity: await queue('discard_granularity'),
    discardAlignment: await readNumber([`${dev}/discard_alignment`]),
    discardZeroesData: (await queue('discard_zeroes_data')) === 1,
    writeZeroesMaxBytes: await queue('write_zeroes_max_bytes'),
    minIoSize: await queue('minimum_io_size'),
  };
}
