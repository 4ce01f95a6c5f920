import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statfsSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackstore } from '../../../src/backstore/file.js';
import { INLINE_MAX_BYTES, InlineIo, inlineModeFor } from '../../../src/backstore/inline-io.js';

/**
 * Inline (event-loop) preadv2 / pwritev2: the bytes must be exactly those the thread-pool path
 * would move, for any segmentation, on a disk file system (RWF_NOWAIT) and on tmpfs (plain).
 */
const TMPFS_MAGIC = 0x01021994;
const dirs: { name: string; dir: string }[] = [];
beforeAll(async () => {
  dirs.push({ name: 'tmpdir', dir: await mkdtemp(join(tmpdir(), 'scatter-inline-')) });
  if (existsSync('/dev/shm')) dirs.push({ name: '/dev/shm', dir: await mkdtemp('/dev/shm/scatter-inline-') });
});
afterAll(async () => {
  for (const d of dirs) await rm(d.dir, { recursive: true, force: true });
});

/** Split `total` bytes into segments of the given sizes (the last takes the rest). */
function segments(total: number, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let left = total;
  for (const c of cuts) {
    if (left === 0) break;
    const n = Math.min(left, Math.max(1, c));
    out.push(Buffer.alloc(n));
    left -= n;
  }
  if (left > 0) out.push(Buffer.alloc(left));
  return out;
}

describe('inline I/O', () => {
  it('picks memory for tmpfs, nowait for other file systems, off for O_DIRECT', () => {
    for (const { dir } of dirs) {
      const expected = Number(statfsSync(dir).type) === TMPFS_MAGIC ? 'memory' : 'nowait';
      expect(inlineModeFor(dir, false)).toBe(expected);
      expect(inlineModeFor(dir, true)).toBe('off');
    }
  });

  it('reads and writes exactly the bytes the ordinary path does, for any segmentation', async () => {
    for (const { dir } of dirs) {
      const path = join(dir, 'pattern.img');
      const size = 1024 * 1024;
      const fd = openSync(path, 'w+');
      try {
        writeSync(fd, randomBytes(size), 0, size, 0);
        const io = new InlineIo(inlineModeFor(dir, false));
        await fc.assert(
          fc.property(
            fc.integer({ min: 0, max: size - 1 }),
            fc.integer({ min: 1, max: INLINE_MAX_BYTES }),
            fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 20 }),
            fc.boolean(),
            (offset, wanted, cuts, write) => {
              const length = Math.min(wanted, size - offset);
              const views = segments(length, cuts);
              if (write) {
                const data = randomBytes(length);
                let at = 0;
                for (const v of views) at += data.copy(v, 0, at);
                const n = io.write(fd, views, offset, length);
                // NOWAIT may do less (or nothing); whatever it did is on file, byte-exact.
                expect(n).toBeGreaterThanOrEqual(0);
                expect(n).toBeLessThanOrEqual(length);
                const back = Buffer.alloc(n);
                readSync(fd, back, 0, n, offset);
                expect(back.equals(data.subarray(0, n))).toBe(true);
              } else {
                const n = io.read(fd, views, offset, length);
                expect(n).toBeGreaterThanOrEqual(0);
                const expectBytes = Buffer.alloc(n);
                readSync(fd, expectBytes, 0, n, offset);
                expect(Buffer.concat(views).subarray(0, n).equals(expectBytes)).toBe(true);
              }
            },
          ),
          { numRuns: 300 },
        );
        // A file just written is in the page cache: a small read is done inline, whole.
        const views = segments(8192, [100, 3000]);
        expect(io.read(fd, views, 4096, 8192)).toBe(8192);
        // Larger than INLINE_MAX_BYTES: never inline.
        expect(io.read(fd, [Buffer.alloc(INLINE_MAX_BYTES + 512)], 0, INLINE_MAX_BYTES + 512)).toBe(0);
        expect(io.mode.read).not.toBe('off');
      } finally {
        closeSync(fd);
      }
    }
  });

  it('a FileBackstore on each file system round-trips small and large bios byte-exact', async () => {
    for (const { dir } of dirs) {
      const b = await FileBackstore.open({ path: join(dir, 'lun.img'), size: 4 * 1024 * 1024 });
      try {
        for (const length of [512, 4096, 65536, 1024 * 1024]) {
          const offset = (length * 3) % (2 * 1024 * 1024);
          const data = randomBytes(length);
          const parts = segments(length, [7, 505, 4096, 333]);
          let at = 0;
          for (const p of parts) at += data.copy(p, 0, at);
          await b.writev({ offset, segments: parts, length }, false);
          const into = segments(length, [1000, 24, 4096]);
          await b.readv({ offset, segments: into, length });
          expect(Buffer.concat(into).equals(data)).toBe(true);
        }
        expect(b.inline.mode.read).toBe(inlineModeFor(dir, false));
      } finally {
        await b.close();
      }
    }
  });
});
