import type { CancelSignal } from '../../block/cancel.js';
import { blockFailure } from '../block-failure.js';
import type { LogicalUnit } from '../logical-unit.js';
import type { Outcome } from '../outcome.js';

/**
 * Reads [lba, lba + blocks) in pieces of at most the LU's maximum transfer length, handing each
 * piece (as one Buffer) to `visit` with its byte offset from the start of the range. `visit` may
 * stop the walk by returning an outcome. A failed read becomes its SCSI outcome.
 */
export async function walkBlocks(
  lu: LogicalUnit,
  lba: number,
  blocks: number,
  signal: CancelSignal,
  visit: (data: Buffer, byteOffset: number) => Outcome | undefined,
): Promise<Outcome | undefined> {
  const step = lu.maxTransferLength;
  for (let done = 0; done < blocks; done += step) {
    const n = Math.min(step, blocks - done);
    let result;
    try {
      result = await lu.device.read((lba + done) * lu.blockSize, n * lu.blockSize, { signal });
    } catch (err) {
      return blockFailure(err, 'read', lba + done);
    }
    try {
      const stop = visit(result.data.toBuffer(), done * lu.blockSize);
      if (stop) return stop;
    } finally {
      result.release();
    }
  }
  return undefined;
}

/** Offset of the first byte where `medium` and `expected` differ, or -1. */
export function firstDifference(medium: Buffer, expected: Buffer): number {
  const n = Math.min(medium.length, expected.length);
  if (medium.subarray(0, n).equals(expected.subarray(0, n))) return n === expected.length ? -1 : n;
  for (let i = 0; i < n; i++) if (medium[i] !== expected[i]) return i;
  return n;
}
