import { SgVector } from '../block/sg.js';
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
  return { kind: 'status', status: value };
}
