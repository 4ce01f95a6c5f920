import fc from 'fast-check';
import type { QueueLimits } from '../../../src/block/limits.js';
import type { Mempool } from '../../../src/block/mempool.js';
import { SgVector } from '../../../src/block/sg.js';

/** Where a segment's memory comes from: the JS heap at an odd offset, or a pool page (aligned or not). */
export type SegmentKind = 'heap' | 'poolAligned' | 'poolOdd';

export interface SgSpec {
  readonly alignment: number;
  readonly total: number;
  /** Sorted cut points inside (0, total). */
  readonly cuts: readonly number[];
  /** Kind of segment i is kinds[i % kinds.length]. */
  readonly kinds: readonly SegmentKind[];
}

export const MAX_TOTAL = 40_000;

const kindArb = fc.constantFrom<SegmentKind>('heap', 'poolAligned', 'poolOdd');

/** Random SG segmentations: odd sizes, odd offsets, runs of tiny segments; totals a multiple of the alignment. */
export function sgSpecArb(alignments: readonly number[] = [1, 512, 4096]): fc.Arbitrary<SgSpec> {
  return fc.constantFrom(...alignments).chain((alignment) => {
    const total =
      alignment === 1
        ? fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: MAX_TOTAL }))
        : fc.integer({ min: 1, max: Math.floor(MAX_TOTAL / alignment) }).map((b) => b * alignment);
    return total.chain((t) =>
      fc.record({
        alignment: fc.constant(alignment),
        total: fc.constant(t),
        cuts:
          t === 1
            ? fc.constant<number[]>([])
            : fc
                .uniqueArray(fc.integer({ min: 1, max: t - 1 }), { maxLength: Math.min(t - 1, 48) })
                .map((c) => [...c].sort((x, y) => x - y)),
        kinds: fc.array(kindArb, { minLength: 1, maxLength: 8 }),
      }),
    );
  });
}

export function limitsArb(alignment: number): fc.Arbitrary<QueueLimits> {
  return fc.record({
    logicalBlockSize: fc.constant(Math.max(512, alignment)),
    maxBioBytes: fc
      .tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: alignment - 1 }))
      .map(([k, extra]) => k * Math.max(alignment, 512) + extra),
    maxSegments: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(1024)),
    alignment: fc.constant(alignment),
    maxInflightBios: fc.integer({ min: 1, max: 4 }),
  });
}

/**
 * Build the SG vector of `spec` carrying `payload`. Pool-backed segments come from
 * `source` (64 KiB pages); call release() to give them back.
 */
export function buildSg(spec: SgSpec, payload: Buffer, source: Mempool): { sg: SgVector; release(): void } {
  const bounds = [0, ...spec.cuts, spec.total];
  const sg = new SgVector();
  const taken: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i]!;
    const len = bounds[i + 1]! - from;
    const kind = spec.kinds[i % spec.kinds.length]!;
    let view: Buffer;
    if (kind === 'heap') {
      view = Buffer.alloc(len + 3).subarray(1 + (i % 3), 1 + (i % 3) + len);
    } else {
      const [page] = source.tryAlloc(1) ?? [];
      if (!page) throw new Error('source pool too small for the test');
      taken.push(page);
      // poolAligned: address congruent to the stream position (so the aligned middle can go direct).
      const at = kind === 'poolAligned' ? from % spec.alignment : 1 + (i % 7);
      view = page.subarray(at, at + len);
    }
    payload.copy(view, 0, from, from + len);
    sg.append(view);
  }
  return { sg, release: () => source.free(taken) };
}
