/**
 * Cancellation for one command. AbortController/AbortSignal are EventTargets and cost
 * microseconds to create per command on the hot path; this is the same idea as a
 * flag plus a small listener list.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  /** Run `fn` on abort (at once if already aborted); returns a function that unregisters it. */
  onAbort(fn: () => void): () => void;
}

const noop = (): void => {};

export class Cancellation implements CancelSignal {
  private listeners: (() => void)[] | undefined;
  private done = false;

  get aborted(): boolean {
    return this.done;
  }

  get signal(): CancelSignal {
    return this;
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    const fns = this.listeners;
    this.listeners = undefined;
    if (fns) for (const fn of fns) fn();
  }

  onAbort(fn: () => void): () => void {
    if (this.done) {
      fn();
      return noop;
    }
    (this.listeners ??= []).push(fn);
    return () => {
      const i = this.listeners?.indexOf(fn) ?? -1;
      if (i >= 0) this.listeners!.splice(i, 1);
    };
  }
}
