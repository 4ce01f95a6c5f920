import type { Nexus } from '../command.js';
import type { UnitAttentions } from '../unit-attention.js';
import { isAllRegistrants, isPrType, type PrSnapshot, type PrTypeCode, type Registration, type ReservationStore } from './types.js';

/** The durable part of the state, with the registration objects themselves (see change()). */
interface Checkpoint {
  readonly regs: readonly (readonly [string, Registration, bigint])[];
  readonly reservation: Reservation | undefined;
  readonly generation: number;
  readonly aptpl: boolean;
}

export interface Reservation {
  /** For all-registrants types the holder is whichever registration made it; every registrant holds it. */
  holder: Registration;
  type: PrTypeCode;
}

/** Port names are iSCSI names plus ISID / TPGT: compare them case-insensitively. */
export function portKey(initiatorPort: string, targetPort: string): string {
  return `${initiatorPort.toLowerCase()}\n${targetPort.toLowerCase()}`;
}

function nexusKey(nexus: Nexus): string {
  return portKey(nexus.initiatorPort, nexus.targetPort);
}

/**
 * The reservation state of one LU: SPC-4 persistent registrations and reservation (with the
 * PRgeneration counter and APTPL), and the SPC-2 RESERVE/RELEASE reservation. It also knows
 * which live I_T nexuses stand behind each registration, to send them unit attentions.
 */
export class ReservationState {
  generation = 0;
  /** Activate Persist Through Power Loss: set by the last REGISTER-type command that kept a registration. */
  aptpl = false;
  reservation: Reservation | undefined;
  /** SPC-2 RESERVE(6)/(10): the holding nexus id; released on its loss and by resets. */
  legacyHolder: number | undefined;

  private readonly regs = new Map<string, Registration>();
  private readonly live = new Map<string, Set<number>>();
  private saving: Promise<void> = Promise.resolve();
  /** PR OUT changes run one at a time (see change()). */
  private changing: Promise<unknown> = Promise.resolve();
  /** Unit attentions of a change not yet durable: established only once it is. */
  private deferred: { id: number; asc: number; ascq: number }[] | undefined;

  constructor(
    private readonly unitAttentions: UnitAttentions,
    private readonly store?: ReservationStore,
  ) {
    const snapshot = store?.load();
    if (snapshot) this.restore(snapshot);
  }

  // ---- nexus life cycle (called by the core) ----

  nexusAdded(nexus: Nexus): void {
    const k = nexusKey(nexus);
    let ids = this.live.get(k);
    if (!ids) this.live.set(k, (ids = new Set()));
    ids.add(nexus.id);
  }

  /** I_T nexus loss releases an SPC-2 reservation; registrations stay (SPC-4). */
  nexusRemoved(nexus: Nexus): void {
    const k = nexusKey(nexus);
    const ids = this.live.get(k);
    ids?.delete(nexus.id);
    if (ids?.size === 0) this.live.delete(k);
    if (this.legacyHolder === nexus.id) this.legacyHolder = undefined;
  }

  /** LOGICAL UNIT RESET and target resets release SPC-2 reservations only. */
  reset(): void {
    this.legacyHolder = undefined;
  }

  // ---- queries ----

  registrationOf(nexus: Nexus): Registration | undefined {
    return this.regs.get(nexusKey(nexus));
  }

  registrationByPorts(initiatorPort: string, targetPort: string): Registration | undefined {
    return this.regs.get(portKey(initiatorPort, targetPort));
  }

  registrations(): Registration[] {
    return [...this.regs.values()];
  }

  get hasRegistrations(): boolean {
    return this.regs.size > 0;
  }

  /** Holder of the persistent reservation: its holder, or any registrant for all-registrants types. */
  isHolder(reg: Registration | undefined): boolean {
    const r = this.reservation;
    if (!r || !reg) return false;
    return isAllRegistrants(r.type) || r.holder === reg;
  }

  // ---- mutations (the PR OUT service actions compose these) ----

  addRegistration(ports: Omit<Registration, 'key'>, key: bigint): Registration {
    const reg: Registration = { ...ports, key };
    this.regs.set(portKey(ports.initiatorPort, ports.targetPort), reg);
    return reg;
  }

  /**
   * Drops a registration. The reservation goes with it when it was the holder of a
   * single-holder type, or the last registrant of an all-registrants type.
   * Returns true when that released the reservation.
   */
  removeRegistration(reg: Registration): boolean {
    this.regs.delete(portKey(reg.initiatorPort, reg.targetPort));
    const r = this.reservation;
    if (!r) return false;
    if (isAllRegistrants(r.type) ? this.regs.size === 0 : r.holder === reg) {
      this.reservation = undefined;
      return true;
    }
    if (isAllRegistrants(r.type) && r.holder === reg) {
      // Keep a live registration as the nominal holder.
      r.holder = this.regs.values().next().value as Registration;
    }
    return false;
  }

  clearAll(): void {
    this.regs.clear();
    this.reservation = undefined;
  }

  bumpGeneration(): void {
    this.generation = (this.generation + 1) >>> 0;
  }

  /** Unit attention to every live nexus of these registrations except the one issuing the command. */
  notify(regs: Iterable<Registration>, asc: number, ascq: number, except?: Nexus): void {
    for (const reg of regs) {
      for (const id of this.live.get(portKey(reg.initiatorPort, reg.targetPort)) ?? []) {
        if (id === except?.id) continue;
        if (this.deferred) this.deferred.push({ id, asc, ascq });
        else this.unitAttentions.push(id, { asc, ascq });
      }
    }
  }

  /** Nexus ids currently logged in behind a registration. */
  liveNexusIds(reg: Registration): number[] {
    return [...(this.live.get(portKey(reg.initiatorPort, reg.targetPort)) ?? [])];
  }

  // ---- changes that must be durable first ----

  /**
   * Runs `apply` (a PERSISTENT RESERVE OUT service action, composed of the mutations above) so that
   * it takes effect only once it is durable: the state it produces is saved first (when APTPL asks
   * for it), and only then becomes what every other command sees, with its unit attentions. If the
   * save fails this rejects and the state is exactly as before: no registration, key, reservation,
   * generation or unit attention of the failed command survives (READ KEYS shows nothing new).
   * Changes run one at a time; one whose task was aborted while it waited (`aborted()`) is not
   * applied at all (resolves undefined).
   */
  change<T extends { readonly changed: boolean }>(apply: () => T, aborted: () => boolean = () => false): Promise<T | undefined> {
    const run = async (): Promise<T | undefined> => {
      if (aborted()) return undefined;
      const before = this.checkpoint();
      this.deferred = [];
      let result: T;
      let attentions: { id: number; asc: number; ascq: number }[];
      try {
        result = apply();
      } catch (err) {
        this.reinstate(before);
        throw err;
      } finally {
        attentions = this.deferred;
        this.deferred = undefined;
      }
      if (result.changed) {
        const after = this.checkpoint();
        const snapshot = this.persistedSnapshot();
        // Until the save is durable everyone sees the old state.
        this.reinstate(before);
        await this.save(snapshot);
        this.reinstate(after);
      }
      for (const ua of attentions) this.unitAttentions.push(ua.id, { asc: ua.asc, ascq: ua.ascq });
      return result;
    };
    const next = this.changing.then(run, run);
    this.changing = next.catch(() => undefined);
    return next;
  }

  private checkpoint(): Checkpoint {
    return {
      regs: [...this.regs].map(([k, reg]) => [k, reg, reg.key] as const),
      reservation: this.reservation ? { holder: this.reservation.holder, type: this.reservation.type } : undefined,
      generation: this.generation,
      aptpl: this.aptpl,
    };
  }

  /** Registration objects keep their identity (the reservation holder is one of them); keys are put back. */
  private reinstate(c: Checkpoint): void {
    this.regs.clear();
    for (const [k, reg, key] of c.regs) {
      reg.key = key;
      this.regs.set(k, reg);
    }
    this.reservation = c.reservation ? { holder: c.reservation.holder, type: c.reservation.type } : undefined;
    this.generation = c.generation;
    this.aptpl = c.aptpl;
  }

  // ---- APTPL ----

  /**
   * Makes the current state durable when APTPL is set (or forgets what was persisted when it is
   * not). Saves run one after another, each with the state as it was when it was asked for.
   */
  persist(): Promise<void> {
    return this.save(this.persistedSnapshot());
  }

  /** What the store should hold for the current state: the state with APTPL, nothing without. */
  private persistedSnapshot(): PrSnapshot | undefined {
    return this.aptpl && this.regs.size > 0 ? this.snapshot() : undefined;
  }

  private save(snapshot: PrSnapshot | undefined): Promise<void> {
    const store = this.store;
    if (!store) return Promise.resolve();
    const next = this.saving.then(() => store.save(snapshot));
    this.saving = next.catch(() => undefined);
    return next;
  }

  snapshot(): PrSnapshot {
    const regs = this.registrations();
    const r = this.reservation;
    return {
      generation: this.generation,
      registrations: regs.map((g) => ({
        initiatorPort: g.initiatorPort,
        targetPort: g.targetPort,
        relativeTargetPortId: g.relativeTargetPortId,
        key: g.key.toString(16).padStart(16, '0'),
      })),
      ...(r ? { reservation: { holder: regs.indexOf(r.holder), type: r.type } } : {}),
    };
  }

  private restore(s: PrSnapshot): void {
    const regs = s.registrations.map((g) =>
      this.addRegistration(
        { initiatorPort: g.initiatorPort, targetPort: g.targetPort, relativeTargetPortId: g.relativeTargetPortId },
        BigInt(`0x${g.key}`),
      ),
    );
    this.generation = s.generation >>> 0;
    this.aptpl = regs.length > 0;
    const r = s.reservation;
    if (r && isPrType(r.type) && regs[r.holder]) this.reservation = { holder: regs[r.holder]!, type: r.type };
  }
}
