/** Geometry and discard limits as the block and file backstores report them, against what the kernel says. */
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackstoreError } from '../../../src/block/backstore-error.js';
import { BlockBackstore } from '../../../src/backstore/block.js';
import { lowestAlignedLba, physicalBlockSizeOf } from '../../../src/backstore/block-geometry.js';
import { sysfsDeviceDir } from '../../../src/backstore/block-sysfs.js';
import { FileBackstore } from '../../../src/backstore/file.js';
import { Mempool } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { createLoop, loopAvailable, type LoopDevice } from '../../helpers/loop.js';

const DEVICE = 4 * 1024 * 1024;

function sysfs(dev: string, attribute: string): number {
  return Number.parseInt(readFileSync(`/sys/block/${basename(dev)}/${attribute}`, 'utf8').trim(), 10);
}

describe('file backstore physicalBlockSize', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scatter-pbs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults to the block size, takes a power-of-two multiple, and reaches the block layer', async () => {
    const plain = await FileBackstore.open({ path: join(dir, 'a.img'), size: DEVICE });
    expect(plain.physicalBlockSize).toBe(512);
    await plain.close();
    const pbs = await FileBackstore.open({ path: join(dir, 'b.img'), size: DEVICE, blockSize: 512, physicalBlockSize: 4096 });
    const queue = new BlockQueue(pbs, new Mempool({ pages: 2, pageSize: 4096 }));
    expect(queue.physicalBlockSize).toBe(4096);
    expect(queue.lowestAlignedLba).toBeUndefined();
    expect(queue.discardLimits).toBeUndefined();
    await queue.close();
  });

  it.each([1536, 256, 512 * 2 ** 16])('refuses %i over 512-byte blocks', async (physicalBlockSize) => {
    await expect(FileBackstore.open({ path: join(dir, `bad-${physicalBlockSize}.img`), size: DEVICE, physicalBlockSize })).rejects.toBeInstanceOf(
      BackstoreError,
    );
  });
});

describe.skipIf(!loopAvailable())('block backstore geometry on loop devices', () => {
  const loops: LoopDevice[] = [];
  afterAll(() => {
    for (const l of loops) l.detach();
  });

  it('the sysfs directory of a device number is the device', () => {
    const l = createLoop(DEVICE, 512);
    loops.push(l);
    const rdev = statSync(l.dev).rdev;
    expect(readFileSync(`${sysfsDeviceDir(rdev)}/dev`, 'utf8').trim()).toBe(readFileSync(`/sys/block/${basename(l.dev)}/dev`, 'utf8').trim());
  });

  it.each([512, 4096])('%i-byte sectors: physical block, alignment, minimum I/O and discard limits are the kernel\'s', async (sector) => {
    const l = createLoop(DEVICE, sector);
    loops.push(l);
    const b = await BlockBackstore.open({ path: l.dev });
    try {
      expect(b.blockSize).toBe(sysfs(l.dev, 'queue/logical_block_size'));
      expect(b.physicalBlockSize).toBe(sysfs(l.dev, 'queue/physical_block_size'));
      expect(b.lowestAlignedLba).toBe(Math.max(0, sysfs(l.dev, 'alignment_offset')) / sector);
      expect(b.minIoSize).toBe(Math.max(b.physicalBlockSize, sysfs(l.dev, 'queue/minimum_io_size')));
      expect(b.discardLimits).toEqual({
        maxBytes: sysfs(l.dev, 'queue/discard_max_bytes'),
        granularity: Math.max(sector, sysfs(l.dev, 'queue/discard_granularity')),
        alignment: sysfs(l.dev, 'discard_alignment'),
        zeroes: sysfs(l.dev, 'queue/write_zeroes_max_bytes') > 0 || sysfs(l.dev, 'queue/discard_zeroes_data') === 1,
      });
      // The block layer hands all of it to the SCSI core.
      const queue = new BlockQueue(b, new Mempool({ pages: 2, pageSize: 4096 }));
      expect(queue.physicalBlockSize).toBe(b.physicalBlockSize);
      expect(queue.lowestAlignedLba).toBe(b.lowestAlignedLba);
      expect(queue.minIoSize).toBe(b.minIoSize);
      expect(queue.discardLimits).toBe(b.discardLimits);
    } finally {
      await b.close();
    }
  });
});

describe('geometry the kernel reports, as READ CAPACITY(16) can express it', () => {
  it('physical block size: a power-of-two multiple of the logical one, else the logical one', () => {
    expect(physicalBlockSizeOf(512, 4096)).toBe(4096);
    expect(physicalBlockSizeOf(4096, 4096)).toBe(4096);
    expect(physicalBlockSizeOf(4096, 512)).toBe(4096); // smaller than logical: not expressible
    expect(physicalBlockSizeOf(512, 1536)).toBe(512);
    expect(physicalBlockSizeOf(512, 0)).toBe(512);
    expect(physicalBlockSizeOf(512, 512 * 2 ** 16)).toBe(512 * 2 ** 15); // LBPPBE is 4 bits
  });

  it('lowest aligned LBA from BLKALIGNOFF: bytes to the first physical boundary, in logical blocks', () => {
    expect(lowestAlignedLba(0, 512, 4096)).toBe(0);
    expect(lowestAlignedLba(512, 512, 4096)).toBe(1); // a partition starting at sector 63 of a 4K disk
    expect(lowestAlignedLba(3584, 512, 4096)).toBe(7);
    expect(lowestAlignedLba(-1, 512, 4096)).toBe(0); // misaligned: the kernel cannot say
    expect(lowestAlignedLba(100, 512, 4096)).toBe(0); // not a whole logical block
    expect(lowestAlignedLba(512 * 20000, 512, 512 * 32768)).toBe(0); // beyond 14 bits
  });
});
