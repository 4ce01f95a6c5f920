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
