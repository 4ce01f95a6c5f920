import { ScsiStatus, type ScsiResponse } from '../scsi/command.js';
import type { ByteReservation } from './byte-budget.js';
import { sendDataIn, sendScsiResponse } from './responses.js';
import type { SessionHost } from './session-host.js';
import { TaskState, type IscsiTask } from './task.js';

/**
 * The end of a command: it waits for its share of the read budget, runs in the SCSI core, and its
 * one response goes out (Data-In with collapsed status, or a SCSI Response with residuals). The
 * outcome also steers the CmdSN window: TASK SET FULL narrows it, each GOOD widens it again.
 */
export class Completion {
  constructor(private readonly s: SessionHost) {}

  /** All the Data-Out it needs is here: execute (Data-In waits for room in the read budget). */
  execute(task: IscsiTask): void {
    task.startExecution();
    this.run(task);
  }

  /**
   * Data-In waits its turn in the read budget, once the task set lets the command start: a
   * connection whose initiator does not read what it asked for cannot make the process hold more
   * than its share (maxQueuedBytesPerConnection), and a command waiting behind others holds none.
   */
  private admitDataIn(task: IscsiTask): (() => boolean | Promise<boolean>) | undefined {
    const dataIn = task.command.expectedDataInLength;
    if (dataIn === 0) return undefined;
    return () => {
      const signal = task.command.signal;
      if (signal.aborted) return false;
      let granted: (() => void) | undefined;
      const r = this.s.limits.readBudget.reserve(dataIn, () => granted?.(), this.s.conn);
      task.readReservation = r;
      if (r.granted) return true;
      return new Promise<boolean>((resolve) => {
        const off = signal.onAbort(() => resolve(false));
        granted = () => {
          off();
          resolve(true);
        };
      });
    };
  }

  /** Answer now, or once the initiator has stopped sending unsolicited data for it. */
  respondAfterUnsolicited(task: IscsiTask, response: ScsiResponse): void {
    const respond = (): void => this.finish(task, response);
    if (task.unsolicitedOpen) task.earlyResponse = respond;
    else respond();
  }

  private run(task: IscsiTask): void {
    if (task.state !== TaskState.Executing) return;
    const dataOut = task.needed > 0 ? task.data.data.slice(0, task.needed) : undefined;
    const scsi = this.s.scsi!;
    task.execution = scsi.execute(task.command, dataOut, { admit: this.admitDataIn(task) }).then(
      (response) => {
        if (task.state === TaskState.Aborted) {
          response.release?.();
          return;
        }
        task.decide();
        this.finish(task, response);
      },
      (err: unknown) => {
        // The SCSI core turns every failure into a response; reaching here is a bug.
        this.s.log.error({ err, itt: task.itt }, 'SCSI core rejected a command');
        if (task.state === TaskState.Aborted) return;
        task.decide();
        this.finish(task, { status: ScsiStatus.BUSY });
      },
    );
  }

  /** Send the command's outcome: Data-In with collapsed status, or a SCSI Response. */
  finish(task: IscsiTask, response: ScsiResponse): void {
    const s = this.s;
    if (task.responded) {
      // Exactly one response per task (RFC 7143 §7.2): a second one would confuse the initiator.
      s.log.error({ itt: task.itt, status: response.status }, 'second response for a task suppressed');
      response.release?.();
      return;
    }
    task.responded = true;
    s.tasks.forget(task);
    s.counters.commands++;
    if (task.pdu.write) s.counters.writtenBytes += task.received;
    // The write data has been used (or dropped); the read share goes back once the socket has the data.
    const readReservation = task.readReservation;
    task.readReservation = undefined;
    task.releaseBudgets();
    let r: ScsiResponse = readReservation === undefined ? response : withReadShare(response, readReservation);
    r = this.throttle(r);
    if (s.conn.isClosed) {
      r.release?.();
      return;
    }
    if (task.pdu.read && r.dataIn && r.dataIn.length > 0 && task.command.expectedDataInLength > 0) {
      s.counters.readBytes += Math.min(r.dataIn.length, task.command.expectedDataInLength);
      sendDataIn(s.conn, s.window, s.params, task, r);
      return;
    }
    r.release?.();
    sendScsiResponse(s.conn, s.window, task, r, residualOf(task, r));
  }

  /**
   * Out of resources (TASK SET FULL): BUSY if nothing else is in flight, and narrow the window (the
   * main throttle): halve it, and never above what is still in flight, so a burst of refusals brings
   * the initiator down to a few commands at a time; each GOOD adds one back.
   */
  private throttle(r: ScsiResponse): ScsiResponse {
    const { tasks, window } = this.s;
    if (r.status === ScsiStatus.TASK_SET_FULL) {
      window.resize(Math.max(1, Math.min(tasks.size, Math.floor(window.windowSize / 2))));
      return tasks.size === 0 ? { ...r, status: ScsiStatus.BUSY } : r;
    }
    if (r.status === ScsiStatus.GOOD && window.windowSize < window.maxWindowSize) window.resize(window.windowSize + 1);
    return r;
  }
}

/** The response whose release also gives back the command's share of the read budget. */
function withReadShare(response: ScsiResponse, share: ByteReservation): ScsiResponse {
  const release = response.release;
  return {
    status: response.status,
    sense: response.sense,
    dataIn: response.dataIn,
    dataOutTransferLength: response.dataOutTransferLength,
    release: () => {
      release?.();
      share.release();
    },
  };
}

/** The residual count of a SCSI Response: positive = underflow, negative = overflow (RFC 7143 §11.4.5). */
function residualOf(task: IscsiTask, r: ScsiResponse): number {
  const dataInLength = r.dataIn?.length ?? 0;
  if (task.pdu.read && !task.pdu.write) return task.command.expectedDataInLength - dataInLength;
  // The CDB's transfer length against EDTL: positive = underflow, negative = overflow.
  if (task.pdu.write) return task.command.expectedDataOutLength - (r.dataOutTransferLength ?? task.needed);
  return dataInLength > 0 ? -dataInLength : 0; // data but no Read bit: overflow
}
