import type { Bio } from './bio.js';
import type { PlannedBio } from './map-sg.js';

/** The caller's views of one bounce part and the pool-page views that stand in for them in the bio. */
export interface BounceCopy {
  readonly sources: readonly Buffer[];
  readonly pieces: readonly Buffer[];
}

/** A planned bio made concrete: the iovecs to submit, and the copies that bounce needs around the I/O. */
export interface PreparedBio {
  readonly bio: Bio;
  readonly bounces: readonly BounceCopy[];
}

/**
 * Lay out a planned bio over its pool pages: direct parts stay the caller's
 * views; bounce parts are packed back to back into `pages` (as mapSg counted
 * them). Copies nothing yet.
 */
export function prepareBio(plan: PlannedBio, pages: readonly Buffer[], pageSize: number): PreparedBio {
  if (pages.length < plan.bouncePages) {
    throw new RangeError(`prepareBio: ${plan.bouncePages} pages needed, ${pages.length} given`);
  }
  const segments: Buffer[] = [];
  const bounces: BounceCopy[] = [];
  let fill = 0;
  for (const part of plan.parts) {
    if (part.kind === 'direct') {
      segments.push(part.view);
      continue;
    }
    const pieces: Buffer[] = [];
    let left = part.length;
    while (left > 0) {
      const page = pages[Math.floor(fill / pageSize)]!;
      const at = fill % pageSize;
      const n = Math.min(left, pageSize - at);
      pieces.push(page.subarray(at, at + n));
      fill += n;
      left -= n;
    }
    segments.push(...pieces);
    bounces.push({ sources: part.sources, pieces });
  }
  return { bio: { offset: plan.offset, segments, length: plan.length }, bounces };
}

/** Before a write: copy the caller's bytes into the pool pages. Returns bytes copied. */
export function bounceIn(prepared: PreparedBio): number {
  let n = 0;
  for (const b of prepared.bounces) n += copyViews(b.sources, b.pieces);
  return n;
}

/** After a read: copy the pool pages back into the caller's memory. Returns bytes copied. */
export function bounceOut(prepared: PreparedBio): number {
  let n = 0;
  for (const b of prepared.bounces) n += copyViews(b.pieces, b.sources);
  return n;
}

/** Copy the byte stream formed by `from` onto the one formed by `to`, as far as the shorter goes (memcpy per overlap). */
export function copyViews(from: readonly Buffer[], to: readonly Buffer[]): number {
  let i = 0;
  let j = 0;
  let inFrom = 0;
  let inTo = 0;
  let total = 0;
  while (i < from.length && j < to.length) {
    const src = from[i]!;
    const dst = to[j]!;
    const n = Math.min(src.length - inFrom, dst.length - inTo);
    if (n > 0) src.copy(dst, inTo, inFrom, inFrom + n);
    inFrom += n;
    inTo += n;
    total += n;
    if (inFrom === src.length) {
      i++;
      inFrom = 0;
    }
    if (inTo === dst.length) {
      j++;
      inTo = 0;
    }
  }
  return total;
}
