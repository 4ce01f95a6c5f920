import { Cancellation } from '../../../src/block/cancel.js';
import fc from 'fast-check';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackstore } from '../../../src/backstore/file.js';
import { BlockError } from '../../../src/block/device.js';
import { Mempool, isPoolMemory } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { SgVector } from '../../../src/block/sg.js';
import { RamBackstore, RecordingBackstore, limits, pattern } from './helpers.js';
import { buildSg, limitsArb, sgSpecArb } from './sg-arbitrary.js';

const DEVICE = 256 * 1024;
let dir: string;
let path: string;
let file: FileBackstore;
const source = new Mempool({ pages: 64, pageSize: 64 * 1024 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-queue-'));
  path = join(dir, 'lun.img');
  file = await FileBackstore.open({ path, size: DEVICE });
});
afterAll(async () => {
  await file.close();
  await rm(dir, { recursive: true, force: true });
});

describe('BlockQueue over a real file', () => {
  it('property: every SG byte lands at its device offset, reads return it, bios obey the limits, pages come back', async () => {
    let tag = 0;
    await fc.assert(
      fc.asyncProperty(
        sgSpecArb().chain((spec) =>
          fc.record({
            spec: fc.constant(spec),
            lim: limitsArb(spec.alignment),
            pageSize: fc.constantFrom(4096, 8192),
            pages: fc.integer({ min: 1, max: 8 }),
            blockSeed: fc.nat(),
            fua: fc.boolean(),
          }),
        ),
        async ({ spec, lim, pageSize, pages, blockSeed, fua }) => {
          const a = spec.alignment;
          const offset = (blockSeed % ((DEVICE - spec.total) / a + 1)) * a;
          const payload = pattern(spec.total, ++tag);
          const { sg, release } = buildSg(spec, payload, source);
          const rec = new RecordingBackstore(file, lim);
          const pool = new Mempool({ pages, pageSize });
          const queue = new BlockQueue(rec, pool, { poolWaitMs: 10_000 });
          try {
            const before = await readFile(path);
            await queue.write(offset, sg, { fua });
            const after = await readFile(path);
            payload.copy(before, offset);
            expect(after.equals(before)).toBe(true);

            const writes = rec.records.filter((r) => r.dir === 'write').sort((x, y) => x.offset - y.offset);
            let at = offset;
            for (const w of writes) {
              expect(w.offset).toBe(at);
              at += w.length;
            }
            expect(at).toBe(offset + spec.total);
            if (fua) expect(writes.length === 1 ? writes[0]!.durable : rec.flushes === 1).toBe(true);

            const read = await queue.read(offset, spec.total);
            if (read.data.segments.some(isPoolMemory)) expect(pool.inUse).toBeGreaterThan(0);
            expect(read.data.length).toBe(spec.total);
            expect(read.data.toBuffer().equals(payload)).toBe(true);
            read.release();

            expect(rec.violations).toEqual([]);
            expect(rec.inflightHighWater).toBeLessThanOrEqual(lim.maxInflightBios);
            expect(pool.inUse).toBe(0);
            expect(pool.stats.highWater).toBeLessThanOrEqual(pages);
            expect(queue.stats.bouncedBytes + queue.stats.directBytes).toBe(2 * spec.total);
          } finally {
            release();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('BlockQueue behaviour', () => {
  const ram = (over = {}): RamBackstore => new RamBackstore(1 << 20, limits(over));

  it('range checks: beyond capacity, negative, and unaligned on an aligned backstore are OUT_OF_RANGE', async () => {
    const q = new BlockQueue(ram({ alignment: 512 }), new Mempool({ pages: 4, pageSize: 4096 }));
    const sg = new SgVector([Buffer.alloc(512)]);
    await expect(q.write((1 << 20) - 256, sg, { fua: false })).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await expect(q.read(-512, 512)).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await expect(q.read(100, 512)).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await expect(q.read(0, 100)).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    expect(q.stats.failures.OUT_OF_RANGE).toBe(4);
  });

  it('write on a read-only backstore is READ_ONLY', async () => {
    const fileRo = await FileBackstore.open({ path, readOnly: true });
    const q = new BlockQueue(fileRo, new Mempool({ pages: 1, pageSize: 4096 }));
    expect(q.readOnly).toBe(true);
    await expect(q.write(0, new SgVector([Buffer.alloc(512)]), { fua: false })).rejects.toMatchObject({ code: 'READ_ONLY' });
    await q.close();
  });

  it.each([
    ['EIO', 'IO_ERROR'],
    ['ENOSPC', 'NO_SPACE'],
    ['EROFS', 'READ_ONLY'],
  ] as const)('backstore %s becomes %s, after the in-flight bios settle', async (from, to) => {
    let n = 0;
    const rec = new RecordingBackstore(ram(), limits({ maxBioBytes: 512 }), {
      async: true,
      fault: (dir) => (dir === 'write' && ++n === 3 ? from : undefined),
    });
    const q = new BlockQueue(rec, new Mempool({ pages: 1, pageSize: 4096 }));
    const err = await q.write(0, new SgVector([Buffer.alloc(8 * 512)]), { fua: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockError);
    expect(err).toMatchObject({ code: to });
    expect(rec.inflight).toBe(0);
    expect(q.stats.failures[to]).toBe(1);
  });

  it('a backstore throwing something odd still yields a BlockError IO_ERROR', async () => {
    const bad = ram();
    bad.readv = () => Promise.reject(new TypeError('boom'));
    const q = new BlockQueue(bad, new Mempool({ pages: 1, pageSize: 4096 }));
    await expect(q.read(0, 512)).rejects.toMatchObject({ name: 'BlockError', code: 'IO_ERROR' });
  });

  it('FUA: one bio is written durable; several are written then flushed once', async () => {
    const rec = new RecordingBackstore(ram(), limits({ maxBioBytes: 4096 }));
    const q = new BlockQueue(rec, new Mempool({ pages: 1, pageSize: 4096 }));
    await q.write(0, new SgVector([Buffer.alloc(4096)]), { fua: true });
    expect(rec.records.map((r) => r.durable)).toEqual([true]);
    expect(rec.flushes).toBe(0);
    await q.write(0, new SgVector([Buffer.alloc(3 * 4096)]), { fua: true });
    expect(rec.records.slice(1).map((r) => r.durable)).toEqual([false, false, false]);
    expect(rec.flushes).toBe(1);
    await q.write(0, new SgVector([Buffer.alloc(3 * 4096)]), { fua: false });
    expect(rec.flushes).toBe(1);
    await q.flush();
    expect(rec.flushes).toBe(2);
    expect(q.stats.flushes).toBe(1);
  });

  it('aligned read: small reads hand out pool pages until release(); large ones bounce into a fresh buffer', async () => {
    const store = ram({ alignment: 512 });
    store.data.fill(pattern(store.size, 9));
    const pool = new Mempool({ pages: 4, pageSize: 4096 });
    const q = new BlockQueue(store, pool);
    const small = await q.read(1024, 6000 - (6000 % 512));
    expect(small.data.segments.every(isPoolMemory)).toBe(true);
    expect(pool.inUse).toBe(2);
    expect(small.data.toBuffer().equals(store.data.subarray(1024, 1024 + 5632))).toBe(true);
    small.release();
    small.release(); // idempotent
    expect(pool.inUse).toBe(0);

    const large = await q.read(0, 64 * 1024);
    expect(large.data.segments.some(isPoolMemory)).toBe(false);
    expect(large.data.toBuffer().equals(store.data.subarray(0, 64 * 1024))).toBe(true);
    expect(pool.inUse).toBe(0);
    expect(q.stats.bouncedBytes).toBe(64 * 1024);
    expect(q.stats.directBytes).toBe(5632);
    expect(q.stats.readBytes).toBe(64 * 1024 + 5632);
  });

  it('unaligned backstore read: one fresh buffer split into bios by maxBioBytes; zero-length is empty', async () => {
    const rec = new RecordingBackstore(ram(), limits({ maxBioBytes: 1000 }));
    const q = new BlockQueue(rec, new Mempool({ pages: 1, pageSize: 4096 }));
    const r = await q.read(3, 2500);
    expect(r.data.segmentCount).toBe(1);
    expect(rec.records.map((x) => [x.offset, x.length])).toEqual([
      [3, 1000],
      [1003, 1000],
      [2003, 500],
    ]);
    expect(q.stats.biosPerRequest).toMatchObject({ sum: 3, count: 1 });
    expect((await q.read(0, 0)).data.length).toBe(0);
  });

  it('keeps at most maxInflightBios bios in flight', async () => {
    const rec = new RecordingBackstore(ram(), limits({ maxBioBytes: 512, maxInflightBios: 3 }), { async: true });
    const q = new BlockQueue(rec, new Mempool({ pages: 1, pageSize: 4096 }));
    await Promise.all([0, 1, 2, 3].map((i) => q.write(i * 8192, new SgVector([Buffer.alloc(8192)]), { fua: false })));
    expect(rec.records).toHaveLength(64);
    expect(rec.inflightHighWater).toBe(3);
    expect(q.stats.inflightHighWater).toBe(3);
  });

  it('abort while waiting for pool pages rejects ABORTED and leaks nothing', async () => {
    const pool = new Mempool({ pages: 2, pageSize: 4096 });
    const q = new BlockQueue(ram({ alignment: 512 }), pool);
    const hog = pool.tryAlloc(2)!;
    const ac = new Cancellation();
    const w = q.write(0, new SgVector([Buffer.alloc(4096)]), { fua: false, signal: ac.signal });
    await new Promise((r) => setImmediate(r));
    expect(q.stats.poolWaits).toBe(1);
    ac.abort();
    await expect(w).rejects.toMatchObject({ code: 'ABORTED' });
    pool.free(hog);
    expect(pool.inUse).toBe(0);
  });

  it('a pool that stays empty past poolWaitMs gives POOL_EXHAUSTED', async () => {
    const pool = new Mempool({ pages: 2, pageSize: 4096 });
    const q = new BlockQueue(ram({ alignment: 512 }), pool, { poolWaitMs: 5 });
    const hog = pool.tryAlloc(2)!;
    await expect(q.write(0, new SgVector([Buffer.alloc(4096)]), { fua: false })).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
    expect(q.stats.failures.POOL_EXHAUSTED).toBe(1);
    pool.free(hog);
  });

  it('close waits for requests under way and refuses new ones', async () => {
    const store = ram();
    const q = new BlockQueue(new RecordingBackstore(store, limits({ maxBioBytes: 512 }), { async: true }), new Mempool({ pages: 1, pageSize: 4096 }));
    const w = q.write(0, new SgVector([Buffer.alloc(4096, 3)]), { fua: false });
    await q.close();
    await w;
    expect(store.data[4095]).toBe(3);
    await expect(q.read(0, 512)).rejects.toMatchObject({ code: 'IO_ERROR' });
  });

  it('refuses a pool whose pages are not a multiple of the alignment', () => {
    expect(() => new BlockQueue(ram({ alignment: 8192 }), new Mempool({ pages: 1, pageSize: 4096 }))).toThrow(RangeError);
  });
});
