import { TmfFunction, TmfResponse } from './opcodes.js';
import { encodeTmfResponse, type TmfRequestPdu } from './pdu.js';
import type { SessionHost } from './session-host.js';
import { TaskState, type IscsiTask } from './task.js';
import { LogEvent } from '../shared/log-events.js';

/**
 * Task Management Function Requests (RFC 7143 §11.5). The session handles its own tasks (ABORT
 * TASK, ABORT TASK SET); functions whose scope is every nexus (CLEAR TASK SET, LOGICAL UNIT RESET,
 * TARGET WARM / COLD RESET) go to the SCSI core, which calls every session's abort hook (this
 * session's included, see `abortOwnTasks`) and waits for them, so nothing completes after the response.
 */
export class TaskManagement {
  constructor(
    private readonly s: SessionHost,
    /** A cold reset ends every session of the target, this one included, after the response. */
    private readonly closeTargetSessions: (reason: string) => void,
  ) {}

  async onTmf(req: TmfRequestPdu): Promise<void> {
    const { conn, window } = this.s;
    const response = await this.perform(req);
    // ABORT TASK at debug: initiators send it routinely (a timed-out command); the others change
    // what every initiator of the LU or target sees, so each gets a line.
    const level = req.fn === TmfFunction.ABORT_TASK ? 'debug' : 'info';
    this.s.log[level](
      { event: LogEvent.tmf, function: nameIn(TmfFunction, req.fn), lun: req.lun, response: nameIn(TmfResponse, response) },
      'task management',
    );
    if (conn.isClosed) return;
    conn.send(
      encodeTmfResponse({
        itt: req.itt,
        response,
        statSN: conn.takeStatSN(),
        expCmdSN: window.expCmdSN,
        maxCmdSN: window.maxCmdSN,
      }),
    );
    if (req.fn === TmfFunction.TARGET_COLD_RESET && response === TmfResponse.COMPLETE) this.closeTargetSessions('target cold reset');
  }

  private async perform(req: TmfRequestPdu): Promise<number> {
    const { scsi, nexus, tasks, window } = this.s;
    if (!scsi) return TmfResponse.REJECTED;
    switch (req.fn) {
      case TmfFunction.ABORT_TASK: {
        const task = tasks.get(req.referencedTaskTag);
        if (!task || task.lun !== req.lun) {
          // Not here: if its CmdSN has not arrived yet, it must never run (RFC 7143 §11.5.1).
          if (window.isPending(req.refCmdSN)) {
            tasks.abortedBeforeArrival.add(req.refCmdSN);
            return TmfResponse.COMPLETE;
          }
          return TmfResponse.TASK_DOES_NOT_EXIST;
        }
        await abortOwnTasks(this.s, [task]);
        return TmfResponse.COMPLETE;
      }
      case TmfFunction.ABORT_TASK_SET: {
        if (!scsi.lunNumbersFor(nexus).includes(req.lun)) return TmfResponse.LUN_DOES_NOT_EXIST;
        await abortOwnTasks(this.s, tasks.onLun(req.lun));
        scsi.abortTaskSet(nexus, req.lun);
        return TmfResponse.COMPLETE;
      }
      case TmfFunction.CLEAR_TASK_SET:
        return lunResult(await scsi.clearTaskSet(nexus, req.lun));
      case TmfFunction.LOGICAL_UNIT_RESET:
        return lunResult(await scsi.lunReset(nexus, req.lun));
      case TmfFunction.TARGET_WARM_RESET:
      case TmfFunction.TARGET_COLD_RESET:
        await scsi.targetReset(nexus, req.fn === TmfFunction.TARGET_WARM_RESET ? 'warm' : 'cold');
        return TmfResponse.COMPLETE;
      case TmfFunction.TASK_REASSIGN:
        // Task reassignment needs ErrorRecoveryLevel 2.
        return TmfResponse.REASSIGNMENT_NOT_SUPPORTED;
      default:
        // CLEAR ACA among them: no ACA is ever established.
        return TmfResponse.NOT_SUPPORTED;
    }
  }
}

/** `value`'s key in an opcode table in lower case (logical_unit_reset, complete), or its hex when it has none. */
function nameIn(table: Readonly<Record<string, number>>, value: number): string {
  const key = Object.keys(table).find((k) => table[k] === value);
  return key?.toLowerCase() ?? `0x${value.toString(16)}`;
}

function lunResult(r: 'complete' | 'noLun'): number {
  return r === 'noLun' ? TmfResponse.LUN_DOES_NOT_EXIST : TmfResponse.COMPLETE;
}

/**
 * Abort tasks of this session without a response: the command's cancel signal tells the SCSI core.
 * Data the initiator will not send any more is not waited for; I/O already handed to the backstore
 * is, so nothing completes after a TMF response. Each task's budgets go back when it lets go of them.
 */
export async function abortOwnTasks(s: SessionHost, tasks: readonly IscsiTask[]): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const task of tasks) {
    const was = task.abort();
    s.tasks.forget(task);
    if (was === TaskState.Executing && task.execution) {
      waits.push(task.execution);
      // Its Data-Out stays in memory until the backstore lets go of it.
      const release = (): void => task.releaseBudgets();
      task.execution.then(release, release);
    } else {
      task.releaseBudgets();
    }
  }
  await Promise.all(waits);
}
