import { ScatterError } from '../shared/errors.js';

/**
 * Stable codes of the errors the SCSI core throws (failures of commands are sense reasons, never
 * errors: see sense-reasons.ts). For logs, metrics and the admin API to name a cause.
 *   LUN_EXISTS        - an LU is added (or configured) with a LUN already in use;
 *   LUN_NOT_FOUND     - no LU has that LUN;
 *   NOT_RESIZABLE     - the LU's device cannot change its capacity;
 *   DUPLICATE_OPCODE  - two handlers of a device type claim the same opcode (and service action);
 *   SANITIZE_BUSY     - a sanitize operation is already in progress on the LU;
 *   SANITIZE_MARKER   - the marker of a running sanitize cannot be written or removed;
 *   SANITIZE_FAILED   - a sanitize operation failed (its sense is on the error);
 *   PR_STATE_INVALID  - a persistent reservation state file cannot be read back;
 *   INTERNAL          - a broken invariant of the core (a bug).
 */
export type ScsiErrorCode =
  | 'LUN_EXISTS'
  | 'LUN_NOT_FOUND'
  | 'NOT_RESIZABLE'
  | 'DUPLICATE_OPCODE'
  | 'SANITIZE_BUSY'
  | 'SANITIZE_MARKER'
  | 'SANITIZE_FAILED'
  | 'PR_STATE_INVALID'
  | 'INTERNAL';

export class ScsiError extends ScatterError<ScsiErrorCode> {}

/** The errno (`EIO`, `ENOSPC` ...) behind a failure: its cause's code when it wraps one, else its own; for fault reports. */
export function errnoOf(err: unknown): string | undefined {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  return typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
}
