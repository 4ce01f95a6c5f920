/**
 * Aborts the transport carries out for one I_T nexus on behalf of a task management function.
 * Part of a command's life is the transport's alone: waiting for its CmdSN turn, collecting
 * Data-Out. A TMF whose scope is every nexus (CLEAR TASK SET, LOGICAL UNIT RESET, TARGET WARM /
 * COLD RESET) must reach those tasks too, on every session of the target, and its response must
 * wait until none of them can still complete. Each nexus registers one hook with the core; the
 * core calls them all and waits, then does its own part on the task sets.
 */

/** Abort the nexus's tasks on LU `lun` (every LU when undefined); resolves once none can complete any more. */
export type NexusAbortHook = (lun: number | undefined) => Promise<void>;

export class NexusAborts {
  private readonly hooks = new Map<number, NexusAbortHook>();

  register(nexusId: number, hook: NexusAbortHook): void {
    this.hooks.set(nexusId, hook);
  }

  unregister(nexusId: number): void {
    this.hooks.delete(nexusId);
  }

  /**
   * Every nexus's hook for LU `lun` (undefined = every LU), started together; resolves when all have.
   * `numberFor` gives the LUN each nexus uses for it (its LUN view), undefined where it has none.
   */
  async abortEverywhere(lun: number | undefined, numberFor: (nexusId: number, lun: number) => number | undefined = (_id, l) => l): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const [nexusId, hook] of this.hooks) {
      if (lun === undefined) {
        waits.push(hook(undefined));
        continue;
      }
      const seen = numberFor(nexusId, lun);
      if (seen !== undefined) waits.push(hook(seen));
    }
    await Promise.all(waits);
  }
}
