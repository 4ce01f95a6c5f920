/** Allocates TSIHs and finds sessions by their identity (InitiatorName, ISID, TargetName) for reinstatement. */
export interface SessionLike {
  readonly tsih: number;
  readonly key: string;
  close(reason: string): Promise<void>;
}

export function sessionKey(initiatorName: string, isid: Buffer, targetName: string): string {
  return `${initiatorName.toLowerCase()}|${isid.toString('hex')}|${targetName.toLowerCase()}`;
}

export class SessionTable<S extends SessionLike> {
  private readonly byTsih = new Map<number, S>();
  private readonly byKey = new Map<string, S>();
  private nextTsih = 1;

  /** A free TSIH in 1..65535 (0 is reserved for "new session"), or undefined when all are taken. */
  allocateTsih(): number | undefined {
    for (let i = 0; i < 0xffff; i++) {
      const t = this.nextTsih;
      this.nextTsih = t === 0xffff ? 1 : t + 1;
      if (!this.byTsih.has(t)) return t;
    }
    return undefined;
  }

  add(session: S): void {
    this.byTsih.set(session.tsih, session);
    this.byKey.set(session.key, session);
  }

  remove(session: S): void {
    if (this.byTsih.get(session.tsih) === session) this.byTsih.delete(session.tsih);
    if (this.byKey.get(session.key) === session) this.byKey.delete(session.key);
  }

  byIdentity(key: string): S | undefined {
    return this.byKey.get(key);
  }

  get(tsih: number): S | undefined {
    return this.byTsih.get(tsih);
  }

  all(): S[] {
    return [...this.byTsih.values()];
  }

  get size(): number {
    return this.byTsih.size;
  }
}
