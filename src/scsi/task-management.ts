import type { DeviceType } from './device-type.js';
import type { LogicalUnit } from './logical-unit.js';
import type { AscPair } from './sense-reasons.js';
import type { Task } from './task.js';

/** Aborts the LU's tasks that `which` picks (each ends with TASK ABORTED); returns them, to wait for their I/O. */
export function abortAll(lu: LogicalUnit, which: (t: Task) => boolean): Task[] {
  const victims = [...lu.taskSet.entries()].filter(which);
  for (const t of victims) t.abort();
  return victims;
}

/** Resolves once no I/O of these tasks is in flight. */
export async function settled(tasks: readonly Task[]): Promise<void> {
  await Promise.all(tasks.map((t) => t.settled));
}

/**
 * LOGICAL UNIT RESET (SAM-5) of one LU: every task aborted; mode parameters, the device type's
 * state (PREVENT ALLOW for a disk) and reservations reset; `ua` for every I_T nexus in `nexusIds`.
 * Resolves once no aborted I/O is in flight.
 */
export async function resetLogicalUnit(lu: LogicalUnit, deviceType: DeviceType, nexusIds: Iterable<number>, ua: AscPair): Promise<void> {
  const aborted = abortAll(lu, () => true);
  lu.resetModeParameters();
  deviceType.reset(lu);
  lu.reservations.reset();
  for (const id of nexusIds) lu.unitAttentions.push(id, { asc: ua[0], ascq: ua[1] });
  await settled(aborted);
}
