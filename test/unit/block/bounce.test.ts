import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bounceIn, bounceOut, copyViews, prepareBio } from '../../../src/block/bounce.js';
import { mapSg } from '../../../src/block/map-sg.js';
import { Mempool, isPoolMemory } from '../../../src/block/mempool.js';
import { SgVector } from '../../../src/block/sg.js';
import { limits, pattern } from './helpers.js';

const PAGE = 4096;

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < buf.length).sort((a, b) => a - b), buf.length];
  return bounds.slice(1).map((end, i) => buf.subarray(bounds[i]!, end));
}

describe('copyViews', () => {
  it('property: copies the stream of one view list onto another, whatever the cut points', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.array(fc.nat(3000), { maxLength: 20 }),
        fc.array(fc.nat(3000), { maxLength: 20 }),
        (len, cutsA, cutsB) => {
          const src = pattern(len, 3);
          const dst = Buffer.alloc(len);
          expect(copyViews(splitAt(src, cutsA), splitAt(dst, cutsB))).toBe(len);
          expect(dst.equals(src)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('stops at the end of the shorter stream', () => {
    const dst = Buffer.alloc(4, 0xee);
    expect(copyViews([Buffer.from([1, 2])], [dst])).toBe(2);
    expect([...dst]).toEqual([1, 2, 0xee, 0xee]);
  });
});

describe('prepareBio + bounceIn/bounceOut', () => {
  it('property: a bounced write bio carries the stream bytes; a bounced read lands in the caller views', () => {
    const pool = new Mempool({ pages: 8, pageSize: PAGE });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }).map((b) => b * 512),
        fc.array(fc.nat(12_288), { maxLength: 30 }),
        (len, cuts) => {
          const payload = pattern(len, len);
          // Heap views at odd offsets: everything bounces under alignment 512.
          const views = splitAt(payload, cuts).map((v) => {
            const copy = Buffer.alloc(v.length + 1).subarray(1);
            v.copy(copy);
            return copy;
          });
          const plan = mapSg(new SgVector(views), 0, limits({ alignment: 512, maxSegments: 2 }), { pageSize: PAGE, maxBouncePages: 3 });
          expect(plan.bounceBytes).toBe(len);
          for (const bio of plan.bios) {
            const pages = pool.tryAlloc(bio.bouncePages)!;
            const prepared = prepareBio(bio, pages, PAGE);
            expect(prepared.bio.segments.every(isPoolMemory)).toBe(true);
            expect(bounceIn(prepared)).toBe(bio.length);
            const sent = Buffer.concat(prepared.bio.segments);
            expect(sent.equals(payload.subarray(bio.streamOffset, bio.streamOffset + bio.length))).toBe(true);
            // Read direction: the "device" overwrites the pages, bounceOut must deliver it to the caller's views.
            for (const s of prepared.bio.segments) s.fill(0x5a);
            expect(bounceOut(prepared)).toBe(bio.length);
            pool.free(pages);
          }
          expect(Buffer.concat(views).every((b) => b === 0x5a)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
    expect(pool.inUse).toBe(0);
  });

  it('keeps direct parts as the caller views and refuses too few pages', () => {
    const pool = new Mempool({ pages: 2, pageSize: PAGE });
    const [page] = pool.tryAlloc(1)!;
    const sg = new SgVector([Buffer.alloc(100, 1), Buffer.alloc(412, 2), page!.subarray(512, 1024)]);
    const plan = mapSg(sg, 0, limits({ alignment: 512 }), { pageSize: PAGE });
    const bio = plan.bios[0]!;
    expect(bio.bouncePages).toBe(1);
    expect(() => prepareBio(bio, [], PAGE)).toThrow(RangeError);
    const [bounce] = pool.tryAlloc(1)!;
    const prepared = prepareBio(bio, [bounce!], PAGE);
    expect(prepared.bio.segments).toHaveLength(2);
    expect(prepared.bio.segments[1]).toBe(sg.segments[2]);
    expect(bounceIn(prepared)).toBe(512);
    expect([prepared.bio.segments[0]![99], prepared.bio.segments[0]![100]]).toEqual([1, 2]);
    pool.free([page!, bounce!]);
  });
});
