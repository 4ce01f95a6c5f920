/** Persistent reservation types and scope (SPC-4 6.15.2, table of TYPE codes). */
export const PrType = {
  WRITE_EXCLUSIVE: 0x1,
  EXCLUSIVE_ACCESS: 0x3,
  WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 0x5,
  EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: 0x6,
  WRITE_EXCLUSIVE_ALL_REGISTRANTS: 0x7,
  EXCLUSIVE_ACCESS_ALL_REGISTRANTS: 0x8,
} as const;

export type PrTypeCode = (typeof PrType)[keyof typeof PrType];

/** The only scope SPC-4 still defines. */
export const LU_SCOPE = 0x0;

const VALID = new Set<number>(Object.values(PrType));

export function isPrType(value: number): value is PrTypeCode {
  return VALID.has(value);
}

/** WE_AR / EA_AR: every registrant is a reservation holder. */
export function isAllRegistrants(type: PrTypeCode): boolean {
  return type === PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS || type === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
}

/** RO and AR types: registrants that do not hold the reservation still get access. */
export function admitsRegistrants(type: PrTypeCode): boolean {
  return type >= PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY;
}

/** EA types keep non-holders from reading too; WE types only from writing. */
export function isExclusiveAccess(type: PrTypeCode): boolean {
  return (
    type === PrType.EXCLUSIVE_ACCESS ||
    type === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY ||
    type === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS
  );
}

/** One registration: an I_T nexus (by its port names, which outlive sessions) and its key. */
export interface Registration {
  readonly initiatorPort: string;
  readonly targetPort: string;
  readonly relativeTargetPortId: number;
  key: bigint;
}

/** What survives a restart when APTPL is set (the ReservationStore's unit). */
export interface PrSnapshot {
  readonly generation: number;
  readonly registrations: readonly {
    readonly initiatorPort: string;
    readonly targetPort: string;
    readonly relativeTargetPortId: number;
    /** 16 hex digits: JSON has no 64-bit integers. */
    readonly key: string;
  }[];
  /** Index into `registrations` of the holder (ignored for all-registrants types), and the type. */
  readonly reservation?: { readonly holder: number; readonly type: PrTypeCode };
}

/** Loads and saves one LU's persistent reservations (APTPL). */
export interface ReservationStore {
  /** At start-up; undefined when nothing was persisted. Throws on unreadable data. */
  load(): PrSnapshot | undefined;
  /** Durable before it resolves; undefined removes what was persisted. */
  save(snapshot: PrSnapshot | undefined): Promise<void>;
}

// ---- cluster mode: one state shared by several nodes ----

/** An I_T nexus by its port names: what identifies it on every node (nexus ids are per node). */
export interface PrPorts {
  readonly initiatorPort: string;
  readonly targetPort: string;
}

/** The whole reservation state of an LU as the nodes of a cluster share it. */
export interface SharedPrState extends PrSnapshot {
  readonly aptpl: boolean;
  /** The SPC-2 RESERVE holder. */
  readonly legacy?: PrPorts;
}

/** What a committed change obliges every node to do for its own I_T nexuses. */
export interface PrEffects {
  /** Unique per attempt: a node recognises its own change when the watch brings it back. */
  readonly id: string;
  /** Unit attentions (SPC-4 5.13.11 ff.), for every nexus with these ports but the issuer's. */
  readonly attentions: readonly (PrPorts & { readonly asc: number; readonly ascq: number })[];
  /** PREEMPT AND ABORT: the preempted nexuses, whose tasks every node aborts. */
  readonly aborts: readonly PrPorts[];
}

/** One version of the shared state. */
export interface PrRecord {
  /** Orders records (etcd: the revision of the change); later records have larger ones. */
  readonly revision: bigint;
  /** What a commit must name as its base (etcd: the key's mod revision, 0 while it does not exist). */
  readonly base: bigint;
  /** Undefined while nothing was ever stored (no registrations). */
  readonly state: SharedPrState | undefined;
  readonly effects?: PrEffects;
}

/**
 * A reservation store several nodes share (cluster mode, src/cluster/etcd-reservations.ts). Every
 * PERSISTENT RESERVE OUT (and RESERVE / RELEASE) is a compare-and-swap on it; each node keeps the
 * newest record it was told of, so the per-command conflict check stays local and synchronous.
 */
export interface SharedReservationStore {
  readonly kind: 'shared';
  /** The newest record delivered to subscribers (at construction: the one read before the LU was built). */
  current(): PrRecord;
  /**
   * Writes `state` with `effects` if the stored version is still `base`: the revision it was
   * committed at, or undefined on a conflict (someone else changed it first). Rejects with
   * PrStoreUnavailableError when the store cannot be reached in time.
   */
  commit(state: SharedPrState, effects: PrEffects, base: bigint): Promise<bigint | undefined>;
  /**
   * Resolves once every record up to the newest one the store holds now has been delivered to
   * subscribers (a linearizable read, then waiting for the watch). Rejects like commit().
   */
  sync(): Promise<void>;
  /** Called, in revision order, with every newer record (this node's own changes included). */
  subscribe(listener: (record: PrRecord) => void): () => void;
}

export type AnyReservationStore = ReservationStore | SharedReservationStore;

export function isSharedStore(store: AnyReservationStore | undefined): store is SharedReservationStore {
  return store !== undefined && 'kind' in store && store.kind === 'shared';
}

/** The shared store could not be reached (or did not answer in time): the command changed nothing. */
export class PrStoreUnavailableError extends Error {
  constructor(
    message: string,
    /** No answer within the time allowed (rather than a refusal or a broken connection). */
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PrStoreUnavailableError';
  }
}
