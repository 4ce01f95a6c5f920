import { Cancellation, type CancelSignal } from '../block/cancel.js';
import type { ScsiCommand } from './command.js';
import type { ParsedCommand, CommandHandler } from './handler.js';
import type { LogicalUnit } from './logical-unit.js';
import type { TaskSetEntry } from './task-set.js';

/**
 * SCST-style explicit command state:
 *   received  - prepared, the transport is collecting Data-Out;
 *   queued    - execute() called, waiting for the task set to enable it;
 *   executing - the handler (and its block I/O) runs;
 *   done      - a response has been produced.
 */
export type TaskState = 'received' | 'queued' | 'executing' | 'done';

/** One command inside the core, from prepare() to its response. */
export class Task implements TaskSetEntry {
  state: TaskState = 'received';
  readonly receivedAt = performance.now();
  queuedAt = 0;
  executingAt = 0;
  private readonly controller = new Cancellation();
  private readonly offCommandAbort: () => void;
  /** Made only when somebody waits (a reset): most commands are never waited for. */
  private settledPromise: Promise<void> | undefined;
  private resolveSettled: (() => void) | undefined;
  private isSettled = false;
  private readonly onCommandAbort = (): void => this.abort();

  constructor(
    readonly seq: number,
    readonly cmd: ScsiCommand,
    readonly lu: LogicalUnit | undefined,
    readonly handler: CommandHandler,
    readonly parsed: ParsedCommand,
    /** Data-Out bytes the transport collects: parsed.dataOutLength, or less if the EDTL cut it. */
    readonly dataOutLength: number,
  ) {
    this.offCommandAbort = cmd.signal.onAbort(this.onCommandAbort);
  }

  /** Settles when no I/O of this task can still be in flight (what a reset waits for). */
  get settled(): Promise<void> {
    if (this.isSettled) return Promise.resolve();
    this.settledPromise ??= new Promise<void>((resolve) => (this.resolveSettled = resolve));
    return this.settledPromise;
  }

  private markSettled(): void {
    this.isSettled = true;
    this.resolveSettled?.();
  }

  get attr(): ScsiCommand['attr'] {
    return this.cmd.attr;
  }

  get signal(): CancelSignal {
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.controller.aborted;
  }

  /**
   * TMF or transport abort. A task that is not executing leaves the task set at once (it must not
   * hold back others) and is settled; an executing one settles when its I/O does.
   */
  abort(): void {
    if (this.aborted || this.state === 'done') return;
    this.controller.abort();
    if (this.state !== 'executing') {
      this.lu?.taskSet.remove(this);
      this.markSettled();
    }
  }

  finish(): void {
    this.state = 'done';
    this.lu?.taskSet.remove(this);
    this.offCommandAbort();
    this.markSettled();
  }
}
