import type { CancelSignal } from '../../block/cancel.js';
import { checkControlByte } from '../cdb.js';
import { ScsiError } from '../errors.js';
import { isWriteProtected, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, TASK_ABORTED, type Outcome } from '../outcome.js';
import { Opcode } from '../opcode.js';
import { isSenseReason, Sense, type SenseReason } from '../sense-reasons.js';
import { dataOutBuffer } from '../data-out.js';
import { deallocate } from './provisioning.js';
import { OVERWRITE_HEADER, overwriteOperation, parseOverwriteParameters } from './sanitize-overwrite.js';
import type { SanitizeOperation, SanitizeResult } from './sanitize-state.js';

const { SANITIZE } = Opcode;
export const SA_SANITIZE_OVERWRITE = 0x01;
export const SA_SANITIZE_BLOCK_ERASE = 0x02;
export const SA_SANITIZE_EXIT_FAILURE_MODE = 0x1f;

const IMMED = 0x80;
/** Byte 1 bit 6: reserved in the SBC-4 revision libiscsi checks (later ZNR, which only zoned devices use). */
const RESERVED_BIT = 0x40;
const AUSE = 0x20;

interface SanitizeCdb {
  readonly immed: boolean;
  readonly ause: boolean;
  readonly parameterListLength: number;
}

/**
 * The checks every SANITIZE service action shares (SBC-4 5.30.1): reserved bits and bytes, AUSE
 * after a failure in restricted completion mode, and write protection.
 */
function checkCdb(cdb: Buffer, lu: LogicalUnit, writeProtected: boolean, parameterListOk: (length: number) => boolean): SanitizeCdb | SenseReason {
  const control = checkControlByte(cdb, 10);
  if (control) return control;
  if (cdb[1]! & RESERVED_BIT) return Sense.invalidFieldInCdb(1, 6);
  for (let i = 2; i <= 6; i++) if (cdb[i] !== 0) return Sense.invalidFieldInCdb(i);
  const parameterListLength = cdb.readUInt16BE(7);
  if (!parameterListOk(parameterListLength)) return Sense.invalidFieldInCdb(7);
  const ause = (cdb[1]! & AUSE) !== 0;
  // Restricted completion mode: only a sanitize without AUSE may follow a failed one.
  if (ause && lu.sanitize.failedRestricted) return Sense.invalidFieldInCdb(1, 5);
  if (writeProtected) return Sense.writeProtected;
  return { immed: (cdb[1]! & IMMED) !== 0, ause, parameterListLength };
}

/**
 * Starts `op` as the LU's sanitize operation. It waits first for the commands already executing
 * on the LU (the core refuses every new one from now on), so no older write lands on top of it.
 * Without IMMED the command waits for the end; an abort (ABORT TASK, a reset, nexus loss) ends
 * only the command, never the operation (SBC-4 4.11.3 f).
 */
function startSanitize(lu: LogicalUnit, op: SanitizeOperation, cdb: SanitizeCdb, signal: CancelSignal): Outcome | Promise<Outcome> {
  // Another SANITIZE may have started between this one's checks and now.
  if (lu.sanitize.inProgress) return Sense.sanitizeInProgress(lu.sanitize.progress);
  const busy = [...lu.taskSet.entries()]
    .filter((t) => t.state === 'executing' && t.handler.opcode !== SANITIZE)
    .map((t) => t.settled);
  let finished: Promise<SanitizeResult>;
  try {
    finished = lu.sanitize.start(
      {
        name: op.name,
        total: op.total,
        run: async (report) => {
          await Promise.all(busy);
          await op.run(report);
        },
      },
      cdb.ause,
    );
  } catch {
    // The marker could not be made durable (logged by the LU): nothing was started.
    return Sense.internalTargetFailure;
  }
  if (cdb.immed) return GOOD;
  return new Promise<Outcome>((resolve) => {
    const off = signal.onAbort(() => resolve(TASK_ABORTED));
    void finished.then((result) => {
      off();
      resolve(result === 'completed' ? GOOD : Sense.sanitizeCommandFailed);
    });
  });
}

/** An operation that failed, with the sense its block-layer failure maps to (for logs). */
class SanitizeFailure extends ScsiError {
  constructor(readonly outcome: Outcome) {
    super('SANITIZE_FAILED', 'sanitize operation failed');
    this.name = 'SanitizeFailure';
  }
}

/**
 * BLOCK ERASE, thin LUs only: there the erase is deallocation of every block (fallocate
 * PUNCH_HOLE over the whole file), after which GET LBA STATUS reports the whole LU deallocated
 * and, LBPRZ = 1, every block reads as zeros (VPD B1h WABEREQ = 01b: reads succeed).
 */
function parseBlockErase(cdb: Buffer, lu: LogicalUnit, writeProtected: boolean): ParsedCommand | SenseReason {
  if (!lu.thin) return Sense.invalidFieldInCdb(1, 4);
  // BLOCK ERASE takes no parameter list.
  const checked = checkCdb(cdb, lu, writeProtected, (length) => length === 0);
  if (isSenseReason(checked)) return checked;
  const op: SanitizeOperation = {
    name: 'BLOCK ERASE',
    total: lu.device.size,
    run: async (report) => {
      const outcome = await deallocate(lu, [{ lba: 0, blocks: lu.numBlocks }]);
      if (outcome.kind !== 'good') throw new SanitizeFailure(outcome);
      report(lu.device.size);
    },
  };
  return { dataOutLength: 0, run: ({ signal }) => startSanitize(lu, op, checked, signal) };
}

/**
 * OVERWRITE, on LUs writable by configuration whose medium keeps data (not null): the pattern
 * over every block, OVERWRITE COUNT passes, paced at the LU's sanitize rate.
 */
function parseOverwrite(cdb: Buffer, lu: LogicalUnit, writeProtected: boolean): ParsedCommand | SenseReason {
  if (!lu.sanitize.overwriteOffered) return Sense.invalidFieldInCdb(1, 4);
  // SBC-4 table 110: more than the 4-byte header, at most one block of pattern.
  const checked = checkCdb(cdb, lu, writeProtected, (length) => length > OVERWRITE_HEADER && length <= lu.blockSize + OVERWRITE_HEADER);
  if (isSenseReason(checked)) return checked;
  return {
    dataOutLength: checked.parameterListLength,
    run: ({ dataOut, signal }) => {
      const data = dataOutBuffer(dataOut, checked.parameterListLength) ?? Buffer.alloc(0);
      const plan = parseOverwriteParameters(data, lu.blockSize);
      if (isSenseReason(plan)) return plan;
      return startSanitize(lu, overwriteOperation(lu.device, plan, { rate: lu.sanitize.rate }), checked, signal);
    },
  };
}

/** EXIT FAILURE MODE (SBC-4 5.30.2.5): leave an unrestricted failed condition; GOOD when there is none. */
function parseExitFailureMode(cdb: Buffer, lu: LogicalUnit, writeProtected: boolean): ParsedCommand | SenseReason {
  if (!exitFailureModeOffered(lu)) return Sense.invalidFieldInCdb(1, 4);
  const checked = checkCdb(cdb, lu, writeProtected, (length) => length === 0);
  if (isSenseReason(checked)) return checked;
  return {
    dataOutLength: 0,
    run: () => {
      if (lu.sanitize.inProgress) return Sense.sanitizeInProgress(lu.sanitize.progress);
      try {
        return lu.sanitize.exitFailureMode() ? GOOD : Sense.invalidFieldInCdb(1, 4);
      } catch {
        // The marker stays (logged by the LU), so does the failed condition.
        return Sense.internalTargetFailure;
      }
    },
  };
}

/** Wherever a sanitize operation is offered, since any of them can fail. */
function exitFailureModeOffered(lu: LogicalUnit): boolean {
  return lu.thin || lu.sanitize.overwriteOffered;
}

const usage = (sa: number): number[] => [SANITIZE, IMMED | AUSE | sa, 0, 0, 0, 0, 0, 0xff, 0xff, 0x00];

export const sanitizeOverwrite: LuCommandHandler = {
  name: 'SANITIZE (OVERWRITE)',
  opcode: SANITIZE,
  serviceAction: SA_SANITIZE_OVERWRITE,
  cdbLength: 10,
  usage: usage(SA_SANITIZE_OVERWRITE),
  cls: 'write',
  supported: (lu) => lu?.sanitize.overwriteOffered === true,
  parse: ({ cdb, lu, target }) => parseOverwrite(cdb, lu, isWriteProtected(lu, target)),
};

export const sanitizeBlockErase: LuCommandHandler = {
  name: 'SANITIZE (BLOCK ERASE)',
  opcode: SANITIZE,
  serviceAction: SA_SANITIZE_BLOCK_ERASE,
  cdbLength: 10,
  usage: usage(SA_SANITIZE_BLOCK_ERASE),
  cls: 'write',
  supported: (lu) => lu?.thin === true,
  parse: ({ cdb, lu, target }) => parseBlockErase(cdb, lu, isWriteProtected(lu, target)),
};

export const sanitizeExitFailureMode: LuCommandHandler = {
  name: 'SANITIZE (EXIT FAILURE MODE)',
  opcode: SANITIZE,
  serviceAction: SA_SANITIZE_EXIT_FAILURE_MODE,
  cdbLength: 10,
  usage: usage(SA_SANITIZE_EXIT_FAILURE_MODE),
  cls: 'other',
  supported: (lu) => lu !== undefined && exitFailureModeOffered(lu),
  parse: ({ cdb, lu, target }) => parseExitFailureMode(cdb, lu, isWriteProtected(lu, target)),
};

export const sanitizeHandlers: readonly LuCommandHandler[] = [sanitizeOverwrite, sanitizeBlockErase, sanitizeExitFailureMode];
