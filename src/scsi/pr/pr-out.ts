import { checkControlByte } from '../cdb.js';
import { errnoOf } from '../errors.js';
import type { LuCommandHandler, ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { Sense, type SenseReason } from '../sense-reasons.js';
import type { Task } from '../task.js';
import { TASK_ABORTED } from '../outcome.js';
import { applyPrOut, BASIC_PARAMETER_LENGTH, PrOutAction, type PrOutResult } from './pr-out-actions.js';
import { storeFailureSense } from './store-failure.js';
import { isPrType, LU_SCOPE, PrStoreUnavailableError, PrType, type PrTypeCode } from './types.js';

export const PERSISTENT_RESERVE_OUT = 0x5f;

/** Room for a REGISTER AND MOVE TransportID (iSCSI names are at most 223 bytes); more is refused. */
export const MAX_PARAMETER_LENGTH = 1024;

const NAMES: Record<number, string> = {
  [PrOutAction.REGISTER]: 'REGISTER',
  [PrOutAction.RESERVE]: 'RESERVE',
  [PrOutAction.RELEASE]: 'RELEASE',
  [PrOutAction.CLEAR]: 'CLEAR',
  [PrOutAction.PREEMPT]: 'PREEMPT',
  [PrOutAction.PREEMPT_AND_ABORT]: 'PREEMPT AND ABORT',
  [PrOutAction.REGISTER_AND_IGNORE_EXISTING_KEY]: 'REGISTER AND IGNORE EXISTING KEY',
  [PrOutAction.REGISTER_AND_MOVE]: 'REGISTER AND MOVE',
};

/** Service actions whose SCOPE and TYPE fields mean something (the others ignore them). */
const USES_TYPE = new Set<number>([
  PrOutAction.RESERVE,
  PrOutAction.RELEASE,
  PrOutAction.PREEMPT,
  PrOutAction.PREEMPT_AND_ABORT,
  PrOutAction.REGISTER_AND_MOVE,
]);

function decodeType(action: number, byte2: number): PrTypeCode | SenseReason {
  if (!USES_TYPE.has(action)) return PrType.WRITE_EXCLUSIVE; // unused
  if (byte2 >> 4 !== LU_SCOPE) return Sense.invalidFieldInCdb(2, 7);
  const type = byte2 & 0x0f;
  return isPrType(type) ? type : Sense.invalidFieldInCdb(2, 3);
}

/** PREEMPT AND ABORT: the preempted nexuses' tasks on this LU end (SPC-4 5.13.11.2.6). */
async function abortPreempted(lu: LogicalUnit, result: PrOutResult, issuer: number): Promise<void> {
  const ids = new Set(result.preempted.flatMap((reg) => lu.reservations.liveNexusIds(reg)));
  ids.delete(issuer);
  if (ids.size === 0) return;
  const victims: Task[] = [...lu.taskSet.entries()].filter((t) => ids.has(t.cmd.nexus.id));
  for (const t of victims) t.abort();
  await Promise.all(victims.map((t) => t.settled));
}

function prOut(action: number): LuCommandHandler {
  return {
    name: `PERSISTENT RESERVE OUT (${NAMES[action]!})`,
    opcode: PERSISTENT_RESERVE_OUT,
    serviceAction: action,
    cdbLength: 10,
    usage: [PERSISTENT_RESERVE_OUT, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x00],
    cls: 'other',
    parse({ cdb, lu, nexus }): ParsedCommand | SenseReason {
      const control = checkControlByte(cdb, 10);
      if (control) return control;
      const type = decodeType(action, cdb[2]!);
      if (typeof type !== 'number') return type;
      const length = cdb.readUInt32BE(5);
      if (length < BASIC_PARAMETER_LENGTH || length > MAX_PARAMETER_LENGTH) return Sense.parameterListLengthError;
      return {
        dataOutLength: length,
        async run({ dataOut, signal }) {
          if (!dataOut || dataOut.length < length) return Sense.parameterListLengthError;
          const state = lu.reservations;
          const params = dataOut.toBuffer();
          let result: PrOutResult | undefined;
          try {
            // APTPL: durable first, in effect after; a state that cannot be saved changes nothing.
            result = await state.change(
              () => applyPrOut(state, nexus, { action, type, params }),
              () => signal.aborted,
              // Cluster mode: every node aborts the preempted nexuses' tasks when the change reaches it.
              (r) => (action === PrOutAction.PREEMPT_AND_ABORT ? r.preempted : []),
            );
          } catch (err) {
            // Cluster mode: etcd unreachable or slow; nothing is in force, the initiator may retry.
            if (err instanceof PrStoreUnavailableError) return storeFailureSense(err);
            lu.device.health?.report({
              cause: 'persist',
              op: `PERSISTENT RESERVE OUT (${NAMES[action]!})`,
              errno: errnoOf(err),
              message: `reservation state not saved, the command changed nothing: ${err instanceof Error ? err.message : String(err)}`,
            });
            return Sense.internalTargetFailure;
          }
          if (!result) return TASK_ABORTED;
          // After the change is in effect (and the serialisation released: a victim may be waiting for it).
          if (result.changed && action === PrOutAction.PREEMPT_AND_ABORT) await abortPreempted(lu, result, nexus.id);
          return result.outcome;
        },
      };
    },
  };
}

export const prOutHandlers: readonly LuCommandHandler[] = Object.values(PrOutAction).map(prOut);
