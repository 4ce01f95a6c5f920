import { SgVector } from '../block/sg.js';
import { ScsiStatus } from './command.js';
import type { SenseReason } from './sense-reasons.js';

/** What a command handler returns; `response.ts` turns it into a ScsiResponse. */
export type Outcome = GoodOutcome | SenseReason | StatusOutcome;

export interface GoodOutcome {
  readonly kind: 'good';
  readonly data?: SgVector;
  /** Gives back pool pages behind `data` once the transport is done with them. */
  readonly release?: () => void;
}

/** A status without sense: TASK SET FULL, BUSY, TASK ABORTED. */
export interface StatusOutcome {
  readonly kind: 'status';
  readonly status: number;
}

export const GOOD: GoodOutcome = Object.freeze({ kind: 'good' });

/** GOOD with parameter data (INQUIRY, MODE SENSE ...): a single small buffer. */
export function goodData(data: Buffer): GoodOutcome {
  return { kind: 'good', data: new SgVector([data]) };
}

export function status(value: number): StatusOutcome {
  return Object.freeze({ kind: 'status', status: value });
}

/** A task ended by ABORT TASK, a reset, nexus loss or a transport abort (TAS = 1: other nexuses see it too). */
export const TASK_ABORTED: StatusOutcome = status(ScsiStatus.TASK_ABORTED);
/** The bounce pool could not serve the command in time. */
export const TASK_SET_FULL: StatusOutcome = status(ScsiStatus.TASK_SET_FULL);
/** Another nexus holds a reservation that excludes this command (scsi/pr/access.ts). */
export const RESERVATION_CONFLICT: StatusOutcome = status(ScsiStatus.RESERVATION_CONFLICT);
