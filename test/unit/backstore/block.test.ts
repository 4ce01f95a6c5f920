import fc from 'fast-check';
import { closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backstore } from '../../../src/block/backstore.js';
import { BackstoreError } from '../../../src/block/backstore-error.js';
import { BlockBackstore } from '../../../src/backstore/block.js';
import { FileBackstore } from '../../../src/backstore/file.js';
import { memoryAddress } from '../../../src/native/aligned-memory.js';
import { isAddressAligned } from '../../../src/block/alignment.js';
import { Mempool } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { SgVector } from '../../../src/block/sg.js';
import { createLoop, loopAvailable, type LoopDevice } from '../../helpers/loop.js';
import { pattern, prng } from '../block/helpers.js';
import { buildSg, sgSpecArb } from '../block/sg-arbitrary.js';
import { openFlags } from '../../helpers/proc-fds.js';

const DEVICE = 4 * 1024 * 1024;

/** Bytes of the device read with a plain pread on a fresh fd: what is really there, not what the target says. */
function readDevice(dev: string, offset: number, length: number): Buffer {
  const fd = openSync(dev, 'r');
  try {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) done += readSync(fd, out, done, length - done, offset + done);
    return out;
  } finally {
    closeSync(fd);
  }
}


describe('aligned pool memory', () => {
  it.each([4096, 65536])('every page of a %i-byte-page pool sits at a real address that is a multiple of the page size', (pageSize) => {
    const pool = new Mempool({ pages: 24, pageSize, runBytes: 5 * pageSize });
    const pages = pool.tryAlloc(24)!;
    for (const p of pages) {
      expect(memoryAddress(p) % BigInt(pageSize)).toBe(0n);
      expect(isAddressAligned(p, pageSize)).toBe(true);
      // The claim for an odd view is also checked against the real address.
      const odd = p.subarray(512);
      expect(isAddressAligned(odd, 512)).toBe(memoryAddress(odd) % 512n === 0n);
      expect(isAddressAligned(p.subarray(1), 512)).toBe(false);
    }
    pool.free(pages);
  });

  it('a heap buffer is never claimed aligned', () => {
    expect(isAddressAligned(Buffer.alloc(8192), 512)).toBe(false);
  });
});

describe.skipIf(!loopAvailable())('block backstore on loop devices', () => {
  const loops: LoopDevice[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scatter-blk-'));
  });
  afterAll(async () => {
    for (const l of loops) l.detach();
    await rm(dir, { recursive: true, force: true });
  });
  const loop = (sector: number, bytes = DEVICE): LoopDevice => {
    const l = createLoop(bytes, sector);
    loops.push(l);
    return l;
  };

  it.each([512, 4096])('reads size and block sizes from a %i-byte-sector device; alignment is the logical block size', async (sector) => {
    const l = loop(sector);
    const b = await BlockBackstore.open({ path: l.dev });
    try {
      expect(b.kind).toBe('block');
      expect(b.size).toBe(DEVICE);
      expect(b.blockSize).toBe(sector);
      expect(b.physicalBlockSize).toBeGreaterThanOrEqual(sector);
      expect(b.limits.alignment).toBe(sector);
      expect(b.limits.logicalBlockSize).toBe(sector);
      // Loop devices discard by punching holes in their file.
      expect(b.thin).toBe(true);
    } finally {
      await b.close();
    }
  });

  it('the open is exclusive: a second backstore on the same device is refused until the first closes', async () => {
    const l = loop(512);
    const first = await BlockBackstore.open({ path: l.dev });
    await expect(BlockBackstore.open({ path: l.dev })).rejects.toBeInstanceOf(BackstoreError);
    await first.close();
    const again = await BlockBackstore.open({ path: l.dev });
    await again.close();
  });

  it('opens with O_DIRECT, and with O_DSYNC only when the write cache is off (no fdatasync per write then)', async () => {
    const l = loop(512);
    const cached = await BlockBackstore.open({ path: l.dev });
    try {
      const [flags] = openFlags(l.dev);
      expect(flags! & constants.O_DIRECT).toBe(constants.O_DIRECT);
      expect(flags! & constants.O_DSYNC).toBe(0);
      const page = new Mempool({ pages: 1, pageSize: 4096 }).tryAlloc(1)![0]!;
      await cached.writev({ offset: 0, segments: [page], length: 4096 }, false);
      expect(cached.stats.syncs).toBe(0);
      await cached.writev({ offset: 0, segments: [page], length: 4096 }, true); // FUA
      expect(cached.stats.syncs).toBe(1);
    } finally {
      await cached.close();
    }
    const sync = await BlockBackstore.open({ path: l.dev, writeCache: false });
    try {
      const [flags] = openFlags(l.dev);
      expect(flags! & constants.O_DSYNC).toBe(constants.O_DSYNC);
      const page = new Mempool({ pages: 1, pageSize: 4096 }).tryAlloc(1)![0]!;
      await sync.writev({ offset: 0, segments: [page], length: 4096 }, true);
      expect(sync.stats.syncs).toBe(0);
    } finally {
      await sync.close();
    }
  });

  it('a regular file is not a block device', async () => {
    const l = loop(512);
    await expect(BlockBackstore.open({ path: l.file })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('an unaligned bio reaches O_DIRECT and fails cleanly (proof that alignment is enforced by the kernel)', async () => {
    const l = loop(4096);
    const b = await BlockBackstore.open({ path: l.dev });
    try {
      const heap = Buffer.alloc(4097).subarray(1);
      await expect(b.writev({ offset: 0, segments: [heap], length: 4096 }, false)).rejects.toBeInstanceOf(BackstoreError);
    } finally {
      await b.close();
    }
  });

  it.each([512, 4096])('property (%i-byte sectors): random SG segmentations land byte-exact on the device and read back', async (sector) => {
    const l = loop(sector);
    const store = await BlockBackstore.open({ path: l.dev });
    const source = new Mempool({ pages: 64, pageSize: 64 * 1024 });
    let tag = 0;
    try {
      await fc.assert(
        fc.asyncProperty(sgSpecArb([sector]), fc.nat(), fc.integer({ min: 1, max: 8 }), fc.boolean(), async (spec, seed, pages, fua) => {
          const offset = (seed % ((DEVICE - spec.total) / sector + 1)) * sector;
          const payload = pattern(spec.total, ++tag);
          const { sg, release } = buildSg(spec, payload, source);
          const pool = new Mempool({ pages, pageSize: 4096 });
          const queue = new BlockQueue(store, pool, { poolWaitMs: 10_000 });
          try {
            await queue.write(offset, sg, { fua });
            expect(readDevice(l.dev, offset, spec.total).equals(payload)).toBe(true);
            const read = await queue.read(offset, spec.total);
            expect(read.data.toBuffer().equals(payload)).toBe(true);
            read.release();
            expect(pool.inUse).toBe(0);
            expect(pool.stats.highWater).toBeLessThanOrEqual(pages);
          } finally {
            release();
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      await store.close();
    }
  });

  it('thousands of tiny segments land byte-exact', async () => {
    const l = loop(512);
    const store = await BlockBackstore.open({ path: l.dev });
    const queue = new BlockQueue(store, new Mempool({ pages: 4, pageSize: 4096 }));
    try {
      const payload = pattern(64 * 1024, 99);
      const sg = new SgVector();
      const rnd = prng(7);
      for (let at = 0; at < payload.length; ) {
        const len = Math.min(payload.length - at, 1 + Math.floor(rnd() * 40));
        sg.append(Buffer.from(payload.subarray(at, at + len)));
        at += len;
      }
      expect(sg.segments.length).toBeGreaterThan(2000);
      await queue.write(8192, sg, { fua: true });
      expect(readDevice(l.dev, 8192, payload.length).equals(payload)).toBe(true);
      expect(queue.stats.bouncedBytes).toBe(payload.length);
    } finally {
      await queue.close();
    }
  });

  it('forward progress under real O_DIRECT: a 4-page pool serves 32 concurrent 256 KiB unaligned writes and reads', async () => {
    const REQ = 256 * 1024;
    const l = loop(4096, 32 * REQ);
    const store = await BlockBackstore.open({ path: l.dev });
    const pool = new Mempool({ pages: 4, pageSize: 4096 });
    const queue = new BlockQueue(store, pool, { poolWaitMs: 60_000 });
    try {
      const payloads = Array.from({ length: 32 }, (_, i) => pattern(REQ, i + 3));
      await Promise.all(
        payloads.map((p, i) => {
          const sg = new SgVector();
          // Odd-sized heap views at odd offsets: every byte must bounce through the 4 pages.
          for (let at = 0; at < REQ; at += 3001) {
            const len = Math.min(REQ - at, 3001);
            const view = Buffer.alloc(len + 1).subarray(1);
            p.copy(view, 0, at, at + len);
            sg.append(view);
          }
          return queue.write(i * REQ, sg, { fua: false });
        }),
      );
      expect(pool.stats.waits).toBeGreaterThan(0);
      expect(pool.stats.highWater).toBeLessThanOrEqual(4);
      payloads.forEach((p, i) => expect(readDevice(l.dev, i * REQ, REQ).equals(p)).toBe(true));
      const reads = await Promise.all(payloads.map((_, i) => queue.read(i * REQ, 4 * 4096)));
      reads.forEach((r, i) => {
        expect(r.data.toBuffer().equals(payloads[i]!.subarray(0, 4 * 4096))).toBe(true);
      });
      for (const r of reads) r.release();
      expect(pool.stats).toMatchObject({ inUse: 0, waiting: 0 });
    } finally {
      await queue.close();
    }
  });

  it('discard deallocates (fallocate PUNCH_HOLE): the range reads as zeros on the device, neighbours intact, file blocks freed', async () => {
    const l = loop(512);
    const store = await BlockBackstore.open({ path: l.dev, writeCache: false });
    const queue = new BlockQueue(store, new Mempool({ pages: 16, pageSize: 4096 }));
    try {
      const payload = pattern(1024 * 1024, 5);
      await queue.write(0, new SgVector([payload]), { fua: true });
      const allocated = statSync(l.file).blocks;
      await queue.discard([{ offset: 64 * 1024, length: 512 * 1024 }]);
      const dev = readDevice(l.dev, 0, payload.length);
      expect(dev.subarray(64 * 1024, 576 * 1024).every((b) => b === 0)).toBe(true);
      expect(dev.subarray(0, 64 * 1024).equals(payload.subarray(0, 64 * 1024))).toBe(true);
      expect(dev.subarray(576 * 1024).equals(payload.subarray(576 * 1024))).toBe(true);
      expect(store.stats).toMatchObject({ discards: 1, punches: 1, zeroOuts: 0 });
      // The loop driver punched a hole in its file: 512 KiB fewer 512-byte blocks.
      expect(allocated - statSync(l.file).blocks).toBe(1024);
    } finally {
      await queue.close();
    }
  });

  it.each([512, 4096])('file backstore direct: true (%i-byte blocks) bounces unaligned SG and lands byte-exact', async (blockSize) => {
    const path = join(dir, `direct-${blockSize}.img`);
    const store: Backstore = await FileBackstore.open({ path, size: DEVICE, blockSize, direct: true });
    expect(store.limits.alignment).toBe(blockSize);
    expect(store instanceof FileBackstore && store.direct).toBe(true);
    const source = new Mempool({ pages: 64, pageSize: 64 * 1024 });
    const queue = new BlockQueue(store, new Mempool({ pages: 4, pageSize: 4096 }));
    let tag = 0;
    try {
      await fc.assert(
        fc.asyncProperty(sgSpecArb([blockSize]), fc.nat(), async (spec, seed) => {
          const offset = (seed % ((DEVICE - spec.total) / blockSize + 1)) * blockSize;
          const payload = pattern(spec.total, ++tag);
          const { sg, release } = buildSg(spec, payload, source);
          try {
            await queue.write(offset, sg, { fua: false });
            expect(readDevice(path, offset, spec.total).equals(payload)).toBe(true);
            const read = await queue.read(offset, spec.total);
            expect(read.data.toBuffer().equals(payload)).toBe(true);
            read.release();
          } finally {
            release();
          }
        }),
        { numRuns: 30 },
      );
    } finally {
      await queue.close();
    }
  });
});
