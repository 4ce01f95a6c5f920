import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isAddressAligned } from '../../../src/block/alignment.js';
import { prepareBio } from '../../../src/block/bounce.js';
import { mapSg, type SgMapPlan } from '../../../src/block/map-sg.js';
import { Mempool } from '../../../src/block/mempool.js';
import { SgVector } from '../../../src/block/sg.js';
import { limits, pattern } from './helpers.js';
import { buildSg, limitsArb, sgSpecArb } from './sg-arbitrary.js';

const source = new Mempool({ pages: 64, pageSize: 64 * 1024 });
const bouncePools = new Map([4096, 8192].map((size) => [size, new Mempool({ pages: 32, pageSize: size })]));
afterAll(() => expect(source.inUse).toBe(0));

function partBytes(plan: SgMapPlan, i: number): Buffer {
  const bufs = plan.bios[i]!.parts.flatMap((p) => (p.kind === 'direct' ? [p.view] : p.sources));
  return Buffer.concat(bufs);
}

describe('mapSg', () => {
  it('property: bios tile the stream, respect every limit and carry exactly the stream bytes', () => {
    fc.assert(
      fc.property(
        sgSpecArb().chain((spec) =>
          fc.record({
            spec: fc.constant(spec),
            lim: limitsArb(spec.alignment),
            pageSize: fc.constantFrom(4096, 8192),
            maxBouncePages: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
            deviceBlocks: fc.integer({ min: 0, max: 100 }),
          }),
        ),
        ({ spec, lim, pageSize, maxBouncePages, deviceBlocks }) => {
          const a = spec.alignment;
          const payload = pattern(spec.total, spec.total);
          const { sg, release } = buildSg(spec, payload, source);
          try {
            const deviceOffset = deviceBlocks * a;
            const plan = mapSg(sg, deviceOffset, lim, { pageSize, ...(maxBouncePages ? { maxBouncePages } : {}) });
            const maxBio = Math.floor(lim.maxBioBytes / a) * a;
            expect(plan.directBytes + plan.bounceBytes).toBe(spec.total);
            let stream = 0;
            plan.bios.forEach((bio, i) => {
              expect(bio.streamOffset).toBe(stream);
              expect(bio.offset).toBe(deviceOffset + stream);
              expect(bio.length).toBeGreaterThan(0);
              expect(bio.length).toBeLessThanOrEqual(maxBio);
              expect(bio.offset % a).toBe(0);
              expect(bio.length % a).toBe(0);
              expect(bio.segmentCount).toBeLessThanOrEqual(lim.maxSegments);
              expect(bio.bouncePages).toBe(Math.ceil(bio.bounceBytes / pageSize));
              if (maxBouncePages) expect(bio.bouncePages).toBeLessThanOrEqual(maxBouncePages);
              for (const part of bio.parts) {
                if (part.kind === 'direct') {
                  expect(part.view.length % a).toBe(0);
                  expect(isAddressAligned(part.view, a)).toBe(true);
                } else {
                  expect(part.length % a).toBe(0);
                }
              }
              expect(partBytes(plan, i).equals(payload.subarray(stream, stream + bio.length))).toBe(true);
              // The planned iovec count is what the bio really gets once laid over pool pages.
              const pool = bouncePools.get(pageSize)!;
              const pages = pool.tryAlloc(bio.bouncePages)!;
              expect(prepareBio(bio, pages, pageSize).bio.segments).toHaveLength(bio.segmentCount);
              pool.free(pages);
              stream += bio.length;
            });
            expect(stream).toBe(spec.total);
            // Heap memory has no known address, so with alignment nothing of it may go direct.
            if (a > 1 && spec.kinds.every((k) => k === 'heap')) expect(plan.directBytes).toBe(0);
          } finally {
            release();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('alignment 1: one big segment is split by maxBioBytes only, never bounced', () => {
    const buf = Buffer.alloc(10_000);
    const plan = mapSg(new SgVector([buf]), 7, limits({ maxBioBytes: 4096 }), { pageSize: 4096 });
    expect(plan.bios.map((b) => [b.offset, b.length, b.segmentCount])).toEqual([
      [7, 4096, 1],
      [4103, 4096, 1],
      [8199, 1808, 1],
    ]);
    expect(plan.bounceBytes).toBe(0);
  });

  it('alignment 512: heap segments bounce, and the pool pages each bio needs are counted', () => {
    const sg = new SgVector([Buffer.alloc(1000), Buffer.alloc(3096 + 4096)]);
    const plan = mapSg(sg, 512, limits({ alignment: 512 }), { pageSize: 4096 });
    expect(plan.bios).toHaveLength(1);
    expect(plan.bios[0]).toMatchObject({ bounceBytes: 8192, bouncePages: 2, segmentCount: 2 });
    expect(plan.directBytes).toBe(0);
  });

  it('alignment 512: aligned pool memory goes direct; misaligned edges of a congruent segment bounce', () => {
    const pool = new Mempool({ pages: 2, pageSize: 4096 });
    const [p1, p2] = pool.tryAlloc(2)!;
    // stream: 100 heap | pool view at byteOffset 100, 1000 long | 436 heap  => 1536 bytes
    const sg = new SgVector([Buffer.alloc(100), p1!.subarray(100, 1100), Buffer.alloc(436)]);
    const plan = mapSg(sg, 0, limits({ alignment: 512 }), { pageSize: 4096 });
    const parts = plan.bios[0]!.parts.map((p) => (p.kind === 'direct' ? ['direct', p.view.length] : ['bounce', p.length]));
    expect(parts).toEqual([
      ['bounce', 512],
      ['direct', 512],
      ['bounce', 512],
    ]);
    // The same page at a stream position it is not congruent with: bounced whole.
    const shifted = mapSg(new SgVector([Buffer.alloc(100), p2!.subarray(0, 412)]), 0, limits({ alignment: 512 }), { pageSize: 4096 });
    expect(shifted.directBytes).toBe(0);
    pool.free([p1!, p2!]);
  });

  it('counts iovecs of a bounce range that starts mid-page (after an earlier bounce part of the same bio)', () => {
    const pool = new Mempool({ pages: 1, pageSize: 4096 });
    const [page] = pool.tryAlloc(1)!;
    // [heap 512 -> bounce][pool 512 at stream 512 -> direct][heap 8192 -> bounce, packed after the first 512]
    const sg = new SgVector([Buffer.alloc(512), page!.subarray(512, 1024), Buffer.alloc(8192)]);
    const plan = mapSg(sg, 0, limits({ alignment: 512, maxSegments: 3 }), { pageSize: 4096 });
    expect(plan.bios.map((b) => [b.length, b.segmentCount, b.bouncePages])).toEqual([
      [4608, 3, 1],
      [4608, 2, 2],
    ]);
    pool.free([page!]);
  });

  it('caps the pool pages of each bio at maxBouncePages', () => {
    const plan = mapSg(new SgVector([Buffer.alloc(64 * 4096)]), 0, limits({ alignment: 512 }), { pageSize: 4096, maxBouncePages: 2 });
    expect(plan.bios).toHaveLength(32);
    expect(plan.bios.every((b) => b.bouncePages === 2 && b.length === 8192)).toBe(true);
  });

  it('runs of tiny segments are bounced when the segment limit would otherwise decide the bio count', () => {
    const tiny = Array.from({ length: 3000 }, (_, i) => Buffer.alloc(1 + (i % 10)));
    const sg = new SgVector(tiny);
    const lim = limits({ maxSegments: 16 });
    const merged = mapSg(sg, 0, lim, { pageSize: 4096 });
    expect(merged.bounceBytes).toBe(sg.length);
    expect(merged.bios.length).toBe(1); // 16.5 KB fits in 5 pages = 5 iovecs
    const split = mapSg(sg, 0, lim, { pageSize: 4096, tinySegmentBytes: 0 });
    expect(split.bounceBytes).toBe(0);
    expect(split.bios.length).toBe(Math.ceil(3000 / 16));
    // Few tiny segments under a roomy limit stay zero-copy.
    expect(mapSg(new SgVector(tiny.slice(0, 10)), 0, limits(), { pageSize: 4096 }).bounceBytes).toBe(0);
  });

  it('rejects plans that cannot satisfy the alignment', () => {
    const lim = limits({ alignment: 512 });
    expect(() => mapSg(new SgVector([Buffer.alloc(512)]), 100, lim, { pageSize: 4096 })).toThrow(RangeError);
    expect(() => mapSg(new SgVector([Buffer.alloc(500)]), 0, lim, { pageSize: 4096 })).toThrow(RangeError);
    expect(() => mapSg(new SgVector([Buffer.alloc(512)]), 0, limits({ alignment: 4096 }), { pageSize: 2048 })).toThrow(RangeError);
    expect(() => mapSg(new SgVector([Buffer.alloc(512)]), 0, limits({ alignment: 512, maxBioBytes: 511 }), { pageSize: 4096 })).toThrow(
      RangeError,
    );
  });

  it('an empty SG vector plans no bios', () => {
    expect(mapSg(new SgVector(), 0, limits(), { pageSize: 4096 }).bios).toEqual([]);
  });
});
