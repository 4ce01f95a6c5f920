import { hasKnownAlignment, isAddressAligned } from './alignment.js';
import type { QueueLimits } from './limits.js';
import type { SgVector } from './sg.js';

/**
 * One piece of a planned bio, in stream order. A `direct` part is one iovec
 * pointing at the caller's memory. A `bounce` part is a byte range of the
 * stream (given as the caller's views that cover it) that goes through pool
 * pages: the bounce parts of one bio are packed back to back into that bio's
 * pages, starting at the first byte of its first page.
 */
export type BioPart =
  | { readonly kind: 'direct'; readonly view: Buffer }
  | { readonly kind: 'bounce'; readonly sources: readonly Buffer[]; readonly length: number };

export interface PlannedBio {
  /** Byte position on the device. */
  readonly offset: number;
  /** Byte position in the SG stream. */
  readonly streamOffset: number;
  readonly length: number;
  readonly parts: readonly BioPart[];
  /** iovecs the bio will have once its bounce parts sit in pool pages. */
  readonly segmentCount: number;
  readonly bounceBytes: number;
  /** Pool pages this bio needs (all or nothing, just before it is submitted). */
  readonly bouncePages: number;
}

export interface SgMapPlan {
  readonly bios: readonly PlannedBio[];
  readonly length: number;
  readonly directBytes: number;
  readonly bounceBytes: number;
}

export interface MapSgOptions {
  /** Size of a bounce pool page; a multiple of limits.alignment. */
  readonly pageSize: number;
  /** Cap on pool pages per bio (a bio asking for more than the pool has could never be served). Default: none. */
  readonly maxBouncePages?: number;
  /**
   * Direct segments shorter than this are bounced (merged into pool pages) when
   * the segment limit rather than the byte limit would decide the number of bios.
   * 0 disables. Default 512.
   */
  readonly tinySegmentBytes?: number;
}

export const DEFAULT_TINY_SEGMENT_BYTES = 512;

interface Piece {
  bounce: boolean;
  readonly view: Buffer;
}

type Run = { readonly kind: 'direct'; readonly view: Buffer } | { readonly kind: 'bounce'; readonly sources: Buffer[]; length: number };

/**
 * Plan how the SG vector `sg`, to be transferred at device byte `deviceOffset`,
 * becomes bios that satisfy `limits` (the analogue of blk_rq_map_kern_sg).
 * Pure: it allocates no pool pages and copies no payload. Each bio has at most
 * maxBioBytes bytes and maxSegments iovecs; its offset, its length and every
 * iovec's address and length are multiples of limits.alignment; whatever cannot
 * be sent from the caller's memory under those rules is planned as bounce.
 */
export function mapSg(sg: SgVector, deviceOffset: number, limits: QueueLimits, opts: MapSgOptions): SgMapPlan {
  const align = limits.alignment;
  const { pageSize } = opts;
  const maxBouncePages = opts.maxBouncePages ?? Number.POSITIVE_INFINITY;
  const maxBio = Math.floor(limits.maxBioBytes / align) * align;
  if (!Number.isSafeInteger(align) || align < 1) throw new RangeError(`mapSg: bad alignment ${align}`);
  if (maxBio < align || limits.maxSegments < 1) throw new RangeError('mapSg: limits admit no bio');
  if (pageSize < align || pageSize % align !== 0) throw new RangeError(`mapSg: pageSize ${pageSize} not a multiple of alignment ${align}`);
  if (!(maxBouncePages >= 1)) throw new RangeError('mapSg: maxBouncePages must be >= 1');
  if (deviceOffset % align !== 0 || sg.length % align !== 0) {
    throw new RangeError(`mapSg: offset ${deviceOffset} / length ${sg.length} not aligned to ${align}`);
  }

  // The common case (one buffer the backstore can take as it is, within every limit): one direct bio.
  const only = sg.segmentCount === 1 ? sg.segments[0]! : undefined;
  if (only && only.length <= maxBio && (align === 1 || (isAddressAligned(only, align) && only.length % align === 0))) {
    return singleDirectBio(only, deviceOffset);
  }

  const pieces = splitIntoPieces(sg, align);
  const tiny = opts.tinySegmentBytes ?? DEFAULT_TINY_SEGMENT_BYTES;
  if (tiny > 0 && segmentLimitDominates(pieces, sg.length, maxBio, limits.maxSegments)) coalesceTiny(pieces, tiny);
  return pack(toRuns(pieces), deviceOffset, sg.length, maxBio, limits.maxSegments, pageSize, maxBouncePages * pageSize);
}

function singleDirectBio(view: Buffer, deviceOffset: number): SgMapPlan {
  const length = view.length;
  const bio: PlannedBio = {
    offset: deviceOffset,
    streamOffset: 0,
    length,
    parts: [{ kind: 'direct', view }],
    segmentCount: 1,
    bounceBytes: 0,
    bouncePages: 0,
  };
  return { bios: [bio], length, directBytes: length, bounceBytes: 0 };
}

/**
 * Cut every segment into [bounce head][direct middle][bounce tail]. The middle is
 * the part whose stream position and address are both aligned; for memory whose
 * address is unknown (anything but pool pages) there is no middle.
 */
function splitIntoPieces(sg: SgVector, align: number): Piece[] {
  const pieces: Piece[] = [];
  let pos = 0;
  for (const seg of sg.segments) {
    const len = seg.length;
    if (align === 1) {
      pieces.push({ bounce: false, view: seg });
    } else if (hasKnownAlignment(seg, align) && mod(seg.byteOffset - pos, align) === 0) {
      const head = Math.min(len, mod(-pos, align));
      const middle = Math.floor((len - head) / align) * align;
      if (head > 0) pieces.push({ bounce: true, view: seg.subarray(0, head) });
      if (middle > 0) pieces.push({ bounce: false, view: middle === len ? seg : seg.subarray(head, head + middle) });
      if (head + middle < len) pieces.push({ bounce: true, view: seg.subarray(head + middle) });
    } else {
      pieces.push({ bounce: true, view: seg });
    }
    pos += len;
  }
  return pieces;
}

/** True when there are more direct iovecs than the bios that the byte limit alone implies could carry. */
function segmentLimitDominates(pieces: readonly Piece[], length: number, maxBio: number, maxSegments: number): boolean {
  let direct = 0;
  for (const p of pieces) if (!p.bounce) direct++;
  return direct > maxSegments * Math.max(1, Math.ceil(length / maxBio));
}

/** Bounce tiny direct pieces that sit next to another tiny or bounced piece, so they share pool pages. */
function coalesceTiny(pieces: Piece[], tiny: number): void {
  const mergeable = (i: number): boolean => {
    const p = pieces[i];
    return p !== undefined && (p.bounce || p.view.length < tiny);
  };
  const marks = pieces.map((p, i) => !p.bounce && p.view.length < tiny && (mergeable(i - 1) || mergeable(i + 1)));
  marks.forEach((m, i) => {
    if (m) pieces[i]!.bounce = true;
  });
}

/** Merge adjacent bounce pieces into one stream range each. */
function toRuns(pieces: readonly Piece[]): Run[] {
  const runs: Run[] = [];
  for (const p of pieces) {
    const last = runs[runs.length - 1];
    if (!p.bounce) runs.push({ kind: 'direct', view: p.view });
    else if (last?.kind === 'bounce') {
      last.sources.push(p.view);
      last.length += p.view.length;
    } else runs.push({ kind: 'bounce', sources: [p.view], length: p.view.length });
  }
  return runs;
}

/** Greedy packing of runs into bios, splitting a run wherever a limit would be crossed. */
function pack(
  runs: readonly Run[],
  deviceOffset: number,
  length: number,
  maxBio: number,
  maxSegments: number,
  pageSize: number,
  maxFill: number,
): SgMapPlan {
  const bios: PlannedBio[] = [];
  let parts: BioPart[] = [];
  let start = 0; // stream offset of the open bio
  let bytes = 0;
  let segs = 0;
  let fill = 0; // bounce bytes packed into the open bio's pages
  let directBytes = 0;
  let bounceBytes = 0;

  const close = (): void => {
    if (bytes === 0) return;
    bios.push({
      offset: deviceOffset + start,
      streamOffset: start,
      length: bytes,
      parts,
      segmentCount: segs,
      bounceBytes: fill,
      bouncePages: Math.ceil(fill / pageSize),
    });
    start += bytes;
    parts = [];
    bytes = segs = fill = 0;
  };

  for (const run of runs) {
    if (run.kind === 'direct') {
      let view = run.view;
      while (view.length > 0) {
        if (segs >= maxSegments || bytes >= maxBio) close();
        const take = Math.min(view.length, maxBio - bytes);
        parts.push({ kind: 'direct', view: take === view.length ? view : view.subarray(0, take) });
        segs++;
        bytes += take;
        directBytes += take;
        view = view.subarray(take);
      }
      continue;
    }
    const cursor = new ViewCursor(run.sources);
    let remaining = run.length;
    while (remaining > 0) {
      const take = Math.min(remaining, maxBio - bytes, maxFill - fill, bytesInSegments(maxSegments - segs, fill, pageSize));
      if (take <= 0) {
        close();
        continue;
      }
      parts.push({ kind: 'bounce', sources: cursor.take(take), length: take });
      segs += pagesTouched(fill, take, pageSize);
      fill += take;
      bytes += take;
      bounceBytes += take;
      remaining -= take;
    }
  }
  close();
  return { bios, length, directBytes, bounceBytes };
}

/** How many bounce bytes fit in `room` more iovecs when the pages are already filled up to `fill`. */
function bytesInSegments(room: number, fill: number, pageSize: number): number {
  if (room <= 0) return 0;
  const inPage = fill % pageSize;
  return inPage === 0 ? room * pageSize : pageSize - inPage + (room - 1) * pageSize;
}

/** Pages (= iovecs) covered by `length` bytes packed at `fill`. */
export function pagesTouched(fill: number, length: number, pageSize: number): number {
  return Math.floor((fill + length - 1) / pageSize) - Math.floor(fill / pageSize) + 1;
}

/** Walks a list of views, handing out consecutive byte ranges of it as views (no copy). */
class ViewCursor {
  private index = 0;
  private within = 0;

  constructor(private readonly views: readonly Buffer[]) {}

  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    while (n > 0) {
      const v = this.views[this.index]!;
      const step = Math.min(n, v.length - this.within);
      out.push(step === v.length ? v : v.subarray(this.within, this.within + step));
      this.within += step;
      n -= step;
      if (this.within === v.length) {
        this.index++;
        this.within = 0;
      }
    }
    return out;
  }
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}
