import { IntMap } from '../shared/int-map.js';
import type { CmdSnWindow } from './cmdsn-window.js';
import type { IscsiTask } from './task.js';

/**
 * A session's books of its commands: the tasks by ITT, what of them counts against the CmdSN
 * window and against the immediate-command bound, and the CmdSNs aborted before they arrived.
 */
export class TaskTable {
  private readonly byItt = new IntMap<IscsiTask>();
  private immediate = 0;
  /** CmdSNs of tasks aborted before they arrived (ABORT TASK for a command still in flight). */
  readonly abortedBeforeArrival = new Set<number>();

  constructor(private readonly window: CmdSnWindow) {}

  get size(): number {
    return this.byItt.size;
  }

  /** Immediate SCSI commands not ended yet (bounded by maxImmediateCommands). */
  get immediateOutstanding(): number {
    return this.immediate;
  }

  get(itt: number): IscsiTask | undefined {
    return this.byItt.get(itt);
  }

  has(itt: number): boolean {
    return this.byItt.has(itt);
  }

  values(): IterableIterator<IscsiTask> {
    return this.byItt.values();
  }

  /** The tasks on LU `lun` (every task when undefined), as a list safe to abort while iterating. */
  onLun(lun: number | undefined): IscsiTask[] {
    const all = [...this.byItt.values()];
    return lun === undefined ? all : all.filter((t) => t.lun === lun);
  }

  add(task: IscsiTask): void {
    if (task.pdu.immediate) this.immediate++;
    this.byItt.set(task.itt, task);
  }

  /** A non-immediate command reached its CmdSN turn: it holds a place in the window until it ends. */
  countInWindow(task: IscsiTask): void {
    task.countedInWindow = true;
    this.window.outstanding++;
  }

  /** The task leaves the session's books: task table, window, immediate count. */
  forget(task: IscsiTask): void {
    if (this.byItt.get(task.itt) === task) this.byItt.delete(task.itt);
    if (task.countedInWindow) {
      task.countedInWindow = false;
      this.window.outstanding--;
    }
    if (task.pdu.immediate && !task.forgotten) this.immediate--;
    task.forgotten = true;
  }
}
