import { randomUUID } from 'node:crypto';
import type { Nexus } from '../command.js';
import type { UnitAttentions } from '../unit-attention.js';
import {
  isAllRegistrants,
  isPrType,
  isSharedStore,
  PrStoreUnavailableError,
  type AnyReservationStore,
  type PrEffects,
  type PrPorts,
  type PrRecord,
  type PrSnapshot,
  type PrTypeCode,
  type Registration,
  type ReservationStore,
  type SharedPrState,
  type SharedReservationStore,
} from './types.js';

/** The durable part of the state, with the registration objects themselves (see change()). */
interface Checkpoint {
  readonly regs: readonly (readonly [string, Registration, bigint])[];
  readonly reservation: Reservation | undefined;
  readonly generation: number;
  readonly aptpl: boolean;
  readonly legacy: LegacyHolder | undefined;
}

/**
 * The SPC-2 RESERVE holder: one I_T nexus. On a single node its nexus id (a new session is a new
 * nexus); in cluster mode its port names, the only names every node knows it by.
 */
interface LegacyHolder extends PrPorts {
  readonly id: number | undefined;
}

/** What the LU lends the state for changes other nodes make. */
export interface ReservationHooks {
  /** PREEMPT AND ABORT from another node: abort these nexuses' tasks on this LU. */
  abortTasks?(nexusIds: ReadonlySet<number>): void;
}

/** Conflicts in a row after which a shared change gives up (each one means another node's change went in). */
const MAX_CONFLICTS = 64;

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
  /** SPC-2 RESERVE(6)/(10); released on its nexus's loss and by resets. */
  private legacy: LegacyHolder | undefined;

  private readonly regs = new Map<string, Registration>();
  private readonly live = new Map<string, Set<number>>();
  private saving: Promise<void> = Promise.resolve();
  /** PR OUT changes run one at a time (see change()). */
  private changing: Promise<unknown> = Promise.resolve();
  /** Unit attentions of a change not yet durable: established only once it is. */
  private deferred: { id: number; asc: number; ascq: number }[] | undefined;
  /** The same, by port names, for the other nodes (cluster mode). */
  private deferredShared: (PrPorts & { asc: number; ascq: number })[] = [];

  private readonly store: ReservationStore | undefined;
  private readonly shared: SharedReservationStore | undefined;
  /** Cluster mode: the revision of the record the state shows. */
  private revision = 0n;
  private base = 0n;
  /**
   * Cluster mode: ids of this node's changes being committed (their effects are the committer's to
   * establish), with the revision the watch brought each back at, if it did.
   */
  private readonly pending = new Map<string, bigint | undefined>();
  private readonly unsubscribe: (() => void) | undefined;

  constructor(
    private readonly unitAttentions: UnitAttentions,
    store?: AnyReservationStore,
    private readonly hooks: ReservationHooks = {},
  ) {
    if (isSharedStore(store)) {
      this.shared = store;
      const first = store.current();
      this.restoreShared(first.state);
      this.revision = first.revision;
      this.base = first.base;
      this.unsubscribe = store.subscribe((record) => this.receive(record));
    } else {
      this.store = store;
      const snapshot = store?.load();
      if (snapshot) this.restore(snapshot);
    }
  }

  /** Cluster mode: the state lives in a store every node shares (every change is a compare-and-swap there). */
  get isShared(): boolean {
    return this.shared !== undefined;
  }

  /** Stops following the shared store (the LU is gone). */
  detach(): void {
    this.unsubscribe?.();
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
    if (!this.holdsLegacy(nexus)) return;
    if (!this.shared) this.legacy = undefined;
    // In cluster mode the nexus is gone when its ports are not logged in here any more.
    else if (!this.live.has(k)) this.releaseLegacyEverywhere((l) => portKey(l.initiatorPort, l.targetPort) === k);
  }

  /** LOGICAL UNIT RESET and target resets release SPC-2 reservations only. */
  reset(): void {
    if (!this.shared) this.legacy = undefined;
    else if (this.legacy) this.releaseLegacyEverywhere(() => true);
  }

  /** Cluster mode: releases the SPC-2 reservation in the shared store; a failure there is the store's to log. */
  private releaseLegacyEverywhere(which: (holder: LegacyHolder) => boolean): void {
    void this.change(() => {
      const changed = this.legacy !== undefined && which(this.legacy);
      if (changed) this.legacy = undefined;
      return { changed };
    }).catch(() => undefined);
  }

  // ---- SPC-2 RESERVE / RELEASE ----

  get legacyReserved(): boolean {
    return this.legacy !== undefined;
  }

  holdsLegacy(nexus: Nexus): boolean {
    const l = this.legacy;
    if (!l) return false;
    return this.shared ? portKey(l.initiatorPort, l.targetPort) === nexusKey(nexus) : l.id === nexus.id;
  }

  /** Makes `nexus` the SPC-2 holder, or (undefined) releases the reservation. */
  setLegacy(nexus: Nexus | undefined): void {
    this.legacy = nexus && { id: this.shared ? undefined : nexus.id, initiatorPort: nexus.initiatorPort, targetPort: nexus.targetPort };
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
      // Other nodes: every nexus of these ports (the issuer's ports are logged in on the issuer's node only).
      if (this.deferred && this.shared && (!except || portKey(reg.initiatorPort, reg.targetPort) !== nexusKey(except))) {
        this.deferredShared.push({ initiatorPort: reg.initiatorPort, targetPort: reg.targetPort, asc, ascq });
      }
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
   *
   * In cluster mode the state produced is committed to the shared store as a compare-and-swap on
   * the revision the state showed; on a conflict the newer state is awaited and `apply` runs again
   * on it. It takes effect here once committed (and on the other nodes when their watches bring
   * it, with its unit attentions and, for the registrations `abortsOf` names, aborted tasks).
   */
  change<T extends { readonly changed: boolean }>(
    apply: () => T,
    aborted: () => boolean = () => false,
    abortsOf: (result: T) => readonly PrPorts[] = () => [],
  ): Promise<T | undefined> {
    const run = async (): Promise<T | undefined> => {
      if (this.shared) return this.changeShared(this.shared, apply, aborted, abortsOf);
      if (aborted()) return undefined;
      const before = this.checkpoint();
      const { result, attentions } = this.applyCollecting(apply, before);
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

  /**
   * Runs `apply`, collecting the unit attentions it raises (for this node's nexuses, and by port
   * names for the other nodes') instead of establishing them; if it throws, the state goes back
   * to `before`.
   */
  private applyCollecting<T>(
    apply: () => T,
    before: Checkpoint,
  ): { result: T; attentions: { id: number; asc: number; ascq: number }[]; shared: (PrPorts & { asc: number; ascq: number })[] } {
    this.deferred = [];
    this.deferredShared = [];
    try {
      return { result: apply(), attentions: this.deferred, shared: this.deferredShared };
    } catch (err) {
      this.reinstate(before);
      throw err;
    } finally {
      this.deferred = undefined;
      this.deferredShared = [];
    }
  }

  private async changeShared<T extends { readonly changed: boolean }>(
    store: SharedReservationStore,
    apply: () => T,
    aborted: () => boolean,
    abortsOf: (result: T) => readonly PrPorts[],
  ): Promise<T | undefined> {
    for (let conflicts = 0; ; conflicts++) {
      if (aborted()) return undefined;
      const before = this.checkpoint();
      const base = this.base;
      const { result, attentions, shared } = this.applyCollecting(apply, before);
      if (!result.changed) {
        for (const ua of attentions) this.unitAttentions.push(ua.id, { asc: ua.asc, ascq: ua.ascq });
        return result;
      }
      const after = this.checkpoint();
      const state = this.sharedState();
      const ports = (p: PrPorts): PrPorts => ({ initiatorPort: p.initiatorPort, targetPort: p.targetPort });
      const effects: PrEffects = { id: randomUUID(), attentions: shared, aborts: abortsOf(result).map(ports) };
      // Until the commit is in, everyone sees the old state.
      this.reinstate(before);
      this.pending.set(effects.id, undefined);
      let revision: bigint | undefined;
      try {
        revision = await store.commit(state, effects, base);
      } catch (err) {
        // No answer, but the watch already brought the change back: it is in.
        revision = this.pending.get(effects.id);
        if (revision === undefined) throw err;
      } finally {
        this.pending.delete(effects.id);
      }
      if (revision === undefined) {
        if (conflicts >= MAX_CONFLICTS) {
          throw new PrStoreUnavailableError(`reservation change lost ${MAX_CONFLICTS + 1} compare-and-swap races in a row`, false);
        }
        // Someone else's change went in first: wait until it is here (with its effects), then redo ours on it.
        await store.sync();
        continue;
      }
      // The watch may have brought the committed record back already.
      if (this.revision < revision) {
        this.reinstate(after);
        this.revision = revision;
        this.base = revision;
      }
      for (const ua of attentions) this.unitAttentions.push(ua.id, { asc: ua.asc, ascq: ua.ascq });
      return result;
    }
  }

  /**
   * Cluster mode, before answering PERSISTENT RESERVE IN: catch up with the newest state the store
   * holds (another node may have changed it a moment ago). Rejects when the store cannot say.
   */
  async catchUp(): Promise<void> {
    await this.shared?.sync();
  }

  /** Cluster mode: a record from the store; newer ones replace the state and bring their effects here. */
  private receive(record: PrRecord): void {
    if (record.revision <= this.revision) return;
    this.restoreShared(record.state);
    this.revision = record.revision;
    this.base = record.base;
    const effects = record.effects;
    if (!effects) return;
    if (this.pending.has(effects.id)) {
      this.pending.set(effects.id, record.revision); // this node's own change: its committer establishes them
      return;
    }
    for (const ua of effects.attentions) {
      for (const id of this.live.get(portKey(ua.initiatorPort, ua.targetPort)) ?? []) this.unitAttentions.push(id, { asc: ua.asc, ascq: ua.ascq });
    }
    const victims = new Set(effects.aborts.flatMap((p) => [...(this.live.get(portKey(p.initiatorPort, p.targetPort)) ?? [])]));
    if (victims.size > 0) this.hooks.abortTasks?.(victims);
  }

  /** The whole state, as the shared store keeps it. */
  sharedState(): SharedPrState {
    const l = this.legacy;
    return { ...this.snapshot(), aptpl: this.aptpl, ...(l ? { legacy: { initiatorPort: l.initiatorPort, targetPort: l.targetPort } } : {}) };
  }

  private restoreShared(s: SharedPrState | undefined): void {
    this.regs.clear();
    this.reservation = undefined;
    this.generation = 0;
    this.aptpl = false;
    this.legacy = undefined;
    if (!s) return;
    this.restore(s);
    this.aptpl = s.aptpl;
    if (s.legacy) this.legacy = { id: undefined, initiatorPort: s.legacy.initiatorPort, targetPort: s.legacy.targetPort };
  }

  private checkpoint(): Checkpoint {
    return {
      regs: [...this.regs].map(([k, reg]) => [k, reg, reg.key] as const),
      reservation: this.reservation ? { holder: this.reservation.holder, type: this.reservation.type } : undefined,
      generation: this.generation,
      aptpl: this.aptpl,
      legacy: this.legacy,
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
    // On one node RESERVE / RELEASE act at once, outside change(): a save in progress must not undo them.
    if (this.shared) this.legacy = c.legacy;
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
