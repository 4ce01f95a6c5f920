import { Sense, type SenseReason } from '../sense-reasons.js';
import { SenseKey } from '../sense.js';
import { PrStoreUnavailableError } from './types.js';

/*
 * Cluster mode: the reservation state lives in etcd. When etcd cannot be reached, or does not answer
 * within the store's timeout, the command fails with ABORTED COMMAND, the sense key SPC-4 gives for
 * "the device server aborted the command; the application client may be able to recover by trying
 * the command again" (Linux retries it), with
 *   LOGICAL UNIT COMMUNICATION TIME-OUT (08h/01h) when no answer came in time, and
 *   LOGICAL UNIT COMMUNICATION FAILURE (08h/00h) when the store refused or the connection broke:
 * the LU could not talk to a part of itself (SPC-4 Annex D). NOT READY would say the medium is
 * unusable, which it is not: reads and writes still run (against the state known here).
 * (These two ASC pairs belong in sense-reasons.ts's Asc table; they are here until that file is free.)
 */
const LOGICAL_UNIT_COMMUNICATION_FAILURE = [0x08, 0x00] as const;
const LOGICAL_UNIT_COMMUNICATION_TIME_OUT = [0x08, 0x01] as const;

function aborted([asc, ascq]: readonly [number, number]): SenseReason {
  return Object.freeze({ kind: 'sense', key: SenseKey.ABORTED_COMMAND, asc, ascq });
}

export const storeUnreachable: SenseReason = aborted(LOGICAL_UNIT_COMMUNICATION_FAILURE);
export const storeTimedOut: SenseReason = aborted(LOGICAL_UNIT_COMMUNICATION_TIME_OUT);

/** The sense of a change or a catch-up the shared store failed; anything else is a target failure. */
export function storeFailureSense(err: unknown): SenseReason {
  if (err instanceof PrStoreUnavailableError) return err.timedOut ? storeTimedOut : storeUnreachable;
  return Sense.internalTargetFailure;
}
