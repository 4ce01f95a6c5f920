/**
 * Unit attention conditions (SPC-4, SAM-5): one queue per (I_T nexus, LU).
 * A command that is not INQUIRY, REPORT LUNS or REQUEST SENSE takes the highest-priority
 * pending condition (oldest first within a priority) and completes with CHECK CONDITION.
 */

export interface UnitAttention {
  readonly asc: number;
  readonly ascq: number;
}

/** Bound per queue: conditions are few and deduplicated; past this the lowest-priority one is dropped. */
export const MAX_PENDING_UNIT_ATTENTIONS = 16;

/**
 * Lower number = reported first. Power on / reset conditions (29h/00h-04h) outrank I_T nexus
 * loss and the like (29h/05h-07h), which outrank parameter changes and everything else:
 * MODE PARAMETERS CHANGED (2Ah/01h), CAPACITY DATA HAS CHANGED (2Ah/09h) and REPORTED LUNS DATA
 * HAS CHANGED (3Fh/0Eh) share the last rank and go out in the order they were established.
 */
export function unitAttentionPriority(ua: UnitAttention): number {
  if (ua.asc === 0x29) return ua.ascq <= 0x04 ? 0 : 1;
  return 2;
}

export class UnitAttentionQueue {
  private readonly pending: UnitAttention[] = [];

  get size(): number {
    return this.pending.length;
  }

  /** Establish a condition; one already pending with the same ASC/ASCQ is not repeated. */
  push(ua: UnitAttention): void {
    if (this.pending.some((p) => p.asc === ua.asc && p.ascq === ua.ascq)) return;
    this.pending.push({ asc: ua.asc, ascq: ua.ascq });
    if (this.pending.length > MAX_PENDING_UNIT_ATTENTIONS) {
      this.pending.splice(this.indexOfLowest(), 1);
    }
  }

  /** The condition to report next, without clearing it. */
  peek(): UnitAttention | undefined {
    const i = this.indexOfHighest();
    return i < 0 ? undefined : this.pending[i];
  }

  /** Report-and-clear: the condition a CHECK CONDITION (or REQUEST SENSE) now carries. */
  take(): UnitAttention | undefined {
    const i = this.indexOfHighest();
    return i < 0 ? undefined : this.pending.splice(i, 1)[0];
  }

  clear(): void {
    this.pending.length = 0;
  }

  private indexOfHighest(): number {
    let best = -1;
    for (let i = 0; i < this.pending.length; i++) {
      if (best < 0 || unitAttentionPriority(this.pending[i]) < unitAttentionPriority(this.pending[best])) best = i;
    }
    return best;
  }

  private indexOfLowest(): number {
    let worst = 0;
    for (let i = 1; i < this.pending.length; i++) {
      // '>=' so that among equals the newest goes: older conditions keep their place.
      if (unitAttentionPriority(this.pending[i]) >= unitAttentionPriority(this.pending[worst])) worst = i;
    }
    return worst;
  }
}

/** The unit attention queues of one LU, keyed by nexus id. */
export class UnitAttentions {
  private readonly queues = new Map<number, UnitAttentionQueue>();

  push(nexusId: number, ua: UnitAttention): void {
    let q = this.queues.get(nexusId);
    if (!q) {
      q = new UnitAttentionQueue();
      this.queues.set(nexusId, q);
    }
    q.push(ua);
  }

  /** Fast path for every command: nothing pending is the common case. */
  hasPending(nexusId: number): boolean {
    const q = this.queues.get(nexusId);
    return q !== undefined && q.size > 0;
  }

  take(nexusId: number): UnitAttention | undefined {
    return this.queues.get(nexusId)?.take();
  }

  peek(nexusId: number): UnitAttention | undefined {
    return this.queues.get(nexusId)?.peek();
  }

  /** Establish `ua` for every known nexus but `nexusId` (e.g. MODE PARAMETERS CHANGED: SPC-4 says "other I_T nexuses"). */
  pushToOthers(nexusId: number, ua: UnitAttention): void {
    for (const [id, q] of this.queues) if (id !== nexusId) q.push(ua);
  }

  forget(nexusId: number): void {
    this.queues.delete(nexusId);
  }
}
