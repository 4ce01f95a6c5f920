import type { CopyProgress } from './xcopy-copy.js';
import { XcopyLimits } from './xcopy-limits.js';

/** COPY MANAGER STATUS (SPC-4 RECEIVE COPY RESULTS, COPY STATUS). */
export const CopyState = { IN_PROGRESS: 0x00, DONE: 0x01, FAILED: 0x02 } as const;

export interface CopyRecord extends CopyProgress {
  state: number;
}

/** Nexus ids kept at most; the oldest nexus's records go first (ids are never reused). */
const MAX_NEXUSES = 1024;

/**
 * Copy operations by I_T nexus and LIST IDENTIFIER, for RECEIVE COPY RESULTS. Bounded: a nexus
 * holds at most maxConcurrentCopies records, the oldest finished one making room for a new one.
 */
export class CopyRegistry {
  private readonly byNexus = new Map<number, Map<number, CopyRecord>>();

  get(nexusId: number, listId: number): CopyRecord | undefined {
    return this.byNexus.get(nexusId)?.get(listId);
  }

  inProgress(nexusId: number, listId: number): boolean {
    return this.get(nexusId, listId)?.state === CopyState.IN_PROGRESS;
  }

  /** A new record for this list id, or undefined when every slot holds a running copy. */
  start(nexusId: number, listId: number): CopyRecord | undefined {
    let records = this.byNexus.get(nexusId);
    if (!records) {
      if (this.byNexus.size >= MAX_NEXUSES) this.byNexus.delete(this.byNexus.keys().next().value!);
      this.byNexus.set(nexusId, (records = new Map()));
    }
    records.delete(listId);
    if (records.size >= XcopyLimits.maxConcurrentCopies) {
      const done = [...records].find(([, r]) => r.state !== CopyState.IN_PROGRESS);
      if (!done) return undefined;
      records.delete(done[0]);
    }
    const record: CopyRecord = { state: CopyState.IN_PROGRESS, segmentsProcessed: 0, bytesCopied: 0 };
    records.set(listId, record);
    return record;
  }

  /** Held data of a finished copy is discarded once its status has been read. */
  forgetIfDone(nexusId: number, listId: number): void {
    const records = this.byNexus.get(nexusId);
    if (records?.get(listId)?.state !== CopyState.IN_PROGRESS) records?.delete(listId);
  }
}

const registries = new WeakMap<object, CopyRegistry>();

/** One registry per target (keyed by its TargetInfo object). */
export function registryFor(target: object): CopyRegistry {
  let r = registries.get(target);
  if (!r) registries.set(target, (r = new CopyRegistry()));
  return r;
}
