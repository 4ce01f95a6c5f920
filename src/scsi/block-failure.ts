import { BlockError } from '../block/device.js';
import { TASK_ABORTED, TASK_SET_FULL, type Outcome } from './outcome.js';
import { Sense } from './sense-reasons.js';

/**
 * A rejected block-layer call as a SCSI outcome. `lba` is the first block of the command:
 * the block layer does not say which block failed, so a MEDIUM ERROR names the first one
 * (initiators then treat nothing of the transfer as done, which is the safe reading).
 * A truncated or deleted backing file found by this very command is a MEDIUM ERROR here (the
 * read or write failed); the LU is offline from then on (NOT READY for the next commands).
 */
export function blockFailure(err: unknown, op: 'read' | 'write', lba: number): Outcome {
  if (!(err instanceof BlockError)) return Sense.internalTargetFailure;
  switch (err.code) {
    case 'POOL_EXHAUSTED':
      return TASK_SET_FULL;
    case 'IO_ERROR':
      return op === 'read' ? Sense.unrecoveredReadError(lba) : Sense.writeError(lba);
    case 'NO_SPACE':
      return Sense.spaceAllocationFailed;
    case 'READ_ONLY':
      return Sense.writeProtected;
    case 'OUT_OF_RANGE':
      return Sense.lbaOutOfRange;
    case 'ABORTED':
      return TASK_ABORTED;
    case 'OFFLINE':
      return Sense.notReadyManualIntervention;
  }
}
