import type { CancelSignal } from '../block/cancel.js';
import type { SgVector } from '../block/sg.js';
import { blockFailure } from './block-failure.js';
import { dataOutVector } from './data-out.js';
import type { LogicalUnit } from './logical-unit.js';
import { GOOD, type Outcome } from './outcome.js';
import { withRange } from './range-lock.js';
import { Sense } from './sense-reasons.js';

/**
 * Writes `length` bytes (whole blocks; the CDB's length unless the initiator's EDTL cut it) at `lba`:
 * the one write path of every command that writes an LU's blocks (WRITE, WRITE AND VERIFY, WRITE
 * SAME, COMPARE AND WRITE, ORWRITE, EXTENDED COPY). `locked`: the caller already holds the range
 * exclusively (COMPARE AND WRITE, ORWRITE); otherwise the write takes it shared, so it waits only
 * for such a read-modify-write on the same blocks.
 */
export function writeBlocks(
  lu: LogicalUnit,
  lba: number,
  length: number,
  fua: boolean,
  dataOut: SgVector | undefined,
  signal: CancelSignal,
  locked = false,
): Promise<Outcome> {
  if (length === 0) return Promise.resolve(GOOD);
  const data = dataOutVector(dataOut, length);
  if (!data) return Promise.resolve(Sense.dataPhaseError);
  // WCE = 0: no volatile cache may hold the data when status goes out (SBC-3 caching page).
  const write = (): Promise<void> => lu.device.write(lba * lu.blockSize, data, { fua: fua || !lu.writeCacheEnabled, signal });
  let written: Promise<void>;
  try {
    written = locked ? write() : withRange(lu.rangeLock, lba, length / lu.blockSize, false, write);
  } catch (err) {
    return Promise.resolve(blockFailure(err, 'write', lba));
  }
  // Chained, not awaited: every WRITE passes here, and an async frame costs a promise and a microtask.
  return written.then(
    (): Outcome => GOOD,
    (err: unknown) => blockFailure(err, 'write', lba),
  );
}
