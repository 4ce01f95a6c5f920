import type { CancelSignal } from '../../block/cancel.js';
import { blockFailure } from '../block-failure.js';
import { isBeyondCapacity } from '../cdb.js';
import type { Nexus } from '../command.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, RESERVATION_CONFLICT, TASK_ABORTED, type Outcome } from '../outcome.js';
import { reservationConflict } from '../pr/access.js';
import { writeBlocks } from '../lu-write.js';
import { isSenseReason, Sense } from '../sense-reasons.js';
import { XcopyLimits } from './xcopy-limits.js';
import type { BlockSegment, CscdDescriptor } from './xcopy-params.js';
import { findCopyTarget } from './xcopy-targets.js';

/** One segment with its LUs found and its byte count worked out. */
export interface PlannedSegment {
  readonly src: LogicalUnit;
  readonly dst: LogicalUnit;
  readonly srcLba: number;
  readonly dstLba: number;
  readonly bytes: number;
}

/** What the copy manager reports afterwards (RECEIVE COPY RESULTS, COPY STATUS). */
export interface CopyProgress {
  segmentsProcessed: number;
  bytesCopied: number;
}

// READ(16) / WRITE(16) as the copy manager would send them, for the reservation access rules.
const READ16 = Buffer.from([0x88]);
const WRITE16 = Buffer.from([0x8a]);

/**
 * Every check that needs no data, for all segments before any block moves (SPC-4 lets a copy
 * manager refuse up front): CSCD indexes, LUs of this target, block lengths, segment size,
 * capacity, write protection and reservations held by other nexuses.
 */
export function planCopy(
  targets: readonly CscdDescriptor[],
  segments: readonly BlockSegment[],
  lus: readonly LogicalUnit[],
  nexus: Nexus,
  /** Whether this nexus may not write an LU (isWriteProtected); default the LU's own flag. */
  writeProtected: (lu: LogicalUnit) => boolean = (lu) => lu.readOnly,
): PlannedSegment[] | Outcome {
  const found = targets.map((t) => findCopyTarget(t, lus));
  const plan: PlannedSegment[] = [];
  for (const s of segments) {
    const srcD = targets[s.source];
    const dstD = targets[s.destination];
    const src = found[s.source];
    const dst = found[s.destination];
    if (!srcD || !dstD || !src || !dst) return Sense.copyTargetNotReachable;
    if (srcD.blockLength !== src.blockSize || dstD.blockLength !== dst.blockSize) return Sense.copyAborted;
    const bytes = s.blocks * (s.destinationCount ? dst.blockSize : src.blockSize);
    if (bytes % src.blockSize !== 0 || bytes % dst.blockSize !== 0) return Sense.copyAborted;
    if (bytes > XcopyLimits.maxSegmentBytes) return Sense.copyAborted;
    if (isBeyondCapacity(s.sourceLba, bytes / src.blockSize, src.numBlocks)) return Sense.copyAborted;
    if (isBeyondCapacity(s.destinationLba, bytes / dst.blockSize, dst.numBlocks)) return Sense.copyAborted;
    if (writeProtected(dst)) return Sense.writeProtected;
    if (reservationConflict(src.reservations, nexus, READ16) || reservationConflict(dst.reservations, nexus, WRITE16)) {
      return RESERVATION_CONFLICT;
    }
    if (!src.medium.present || !dst.medium.present) return Sense.copyTargetNotReachable;
    // A LU being sanitized (or failed at it) takes no copy I/O from another LU's EXTENDED COPY either.
    if (!src.sanitize.idle || !dst.sanitize.idle) return Sense.copyTargetNotReachable;
    plan.push({ src, dst, srcLba: s.sourceLba, dstLba: s.destinationLba, bytes });
  }
  return plan;
}

/** Runs the segments in order, each in bounded read-then-write chunks; stops at the first failure or abort. */
export async function runCopy(plan: readonly PlannedSegment[], signal: CancelSignal, progress: CopyProgress): Promise<Outcome> {
  for (const seg of plan) {
    const outcome = await copySegment(seg, signal, progress);
    if (outcome !== GOOD) return outcome;
    progress.segmentsProcessed++;
  }
  return GOOD;
}

/** Chunk offsets in an order that never reads what this copy already overwrote (like memmove). */
function chunkOffsets(seg: PlannedSegment, chunk: number): number[] {
  const offsets: number[] = [];
  for (let at = 0; at < seg.bytes; at += chunk) offsets.push(at);
  const srcStart = seg.srcLba * seg.src.blockSize;
  const dstStart = seg.dstLba * seg.dst.blockSize;
  const overlapsForward = seg.src === seg.dst && dstStart > srcStart && dstStart < srcStart + seg.bytes;
  return overlapsForward ? offsets.reverse() : offsets;
}

async function copySegment(seg: PlannedSegment, signal: CancelSignal, progress: CopyProgress): Promise<Outcome> {
  const { src, dst } = seg;
  // A multiple of both block sizes, within both LUs' transfer limits.
  const unit = Math.max(src.blockSize, dst.blockSize);
  const limit = Math.min(XcopyLimits.chunkBytes, src.maxTransferLength * src.blockSize, dst.maxTransferLength * dst.blockSize);
  const chunk = Math.max(unit, Math.floor(limit / unit) * unit);
  for (const at of chunkOffsets(seg, chunk)) {
    if (signal.aborted) return TASK_ABORTED;
    const length = Math.min(chunk, seg.bytes - at);
    const srcLba = seg.srcLba + at / src.blockSize;
    let read;
    try {
      read = await src.device.read(srcLba * src.blockSize, length, { signal });
    } catch (err) {
      return blockFailure(err, 'read', srcLba);
    }
    try {
      // writeBlocks adds FUA itself when the destination's write cache is off.
      const written = await writeBlocks(dst, seg.dstLba + at / dst.blockSize, length, false, read.data, signal);
      if (isSenseReason(written) || written.kind !== 'good') return written;
    } finally {
      read.release();
    }
    progress.bytesCopied += length;
  }
  return GOOD;
}
