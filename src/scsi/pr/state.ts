import type { Nexus } from '../command.js';
import type { UnitAttentions } from '../unit-attention.js';
import { isAllRegistrants, isPrType, type PrSnapshot, type PrTypeCode, type Registration, type ReservationStore } from './types.js';

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
        if (id !== except?.id) this.unitAttentions.push(id, { asc, ascq });
      }
    }
  }

  /** Nexus ids currently logged in behind a registration. */
  liveNexusIds(reg: Registration): number[] {
    return [...(this.live.get(portKey(reg.initiatorPort, reg.targetPort)) ?? [])];
  }

  // ---- APTPL ----

  /**
   * Makes the current state durable when APTPL is set (or forgets what was persisted when it is
   * not). Saves run one after another, each with the state as it was when it was asked for.
   */
  persist(): Promise<void> {
    const store = this.store;
    if (!store) return Promise.resolve();
    const snapshot = this.aptpl && this.regs.size > 0 ? this.snapshot() : undefined;
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
