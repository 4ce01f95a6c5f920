/**
 * Asymmetric logical unit access (SPC-4 5.9, implicit ALUA only): the target port groups an LU is
 * reachable through, each in one access state, and which of them holds this target's own port.
 * Off unless the core is given an AluaProvider: without one, INQUIRY reports TPGS = 00b, REPORT
 * TARGET PORT GROUPS does not exist and no command is gated (a single node is always active).
 */
import type { LogicalUnit } from './logical-unit.js';

/** ASYMMETRIC ACCESS STATE codes (SPC-4); logical block dependent (4h) and offline (Eh) are not modelled. */
export const AccessState = {
  ACTIVE_OPTIMIZED: 0x0,
  ACTIVE_NON_OPTIMIZED: 0x1,
  STANDBY: 0x2,
  UNAVAILABLE: 0x3,
  TRANSITIONING: 0xf,
} as const;
export type AccessState = (typeof AccessState)[keyof typeof AccessState];

export const ALL_ACCESS_STATES: readonly AccessState[] = Object.freeze(Object.values(AccessState));

/** STATUS CODE of a target port group descriptor: why the group last changed state. */
export const AccessStatus = {
  NONE: 0x00,
  /** Changed by SET TARGET PORT GROUPS (explicit ALUA: not offered here). */
  EXPLICIT: 0x01,
  /** Changed by the device server on its own (implicit ALUA). */
  IMPLICIT: 0x02,
} as const;
export type AccessStatus = (typeof AccessStatus)[keyof typeof AccessStatus];

/** One target port group as REPORT TARGET PORT GROUPS describes it. */
export interface TargetPortGroup {
  /** TARGET PORT GROUP, 0..65535. */
  readonly id: number;
  readonly state: AccessState;
  /** PREF: the preferred group to send commands through. */
  readonly preferred: boolean;
  readonly status: AccessStatus;
  /** RELATIVE TARGET PORT IDENTIFIERs of the group's ports, 1..65535 (at most 255 of them). */
  readonly relativeTargetPortIds: readonly number[];
}

/** Where this target's own port sits: what VPD 83h reports and whose state gates commands. */
export interface LocalTargetPort {
  readonly groupId: number;
  readonly relativeTargetPortId: number;
}

/**
 * What the SCSI core asks about ALUA (cluster mode implements it; `AluaModel` is the in-memory
 * one). Called on every command to an LU while set, so the answers must be cheap and synchronous.
 */
export interface AluaProvider {
  /** Every target port group `lu` is reachable through (every node's), in the order RTPG lists them. */
  groups(lu: LogicalUnit): readonly TargetPortGroup[];
  /** The group and relative port id of this target's port for `lu`; the group must be one of `groups(lu)`. */
  localGroup(lu: LogicalUnit): LocalTargetPort;
  /** States a group may take (the RTPG supported-state bits); default every AccessState. */
  readonly supportedStates?: readonly AccessState[];
  /** IMPLICIT TRANSITION TIME in seconds (RTPG extended header), 0..255; default 0 (unspecified). */
  readonly implicitTransitionSeconds?: number;
  /**
   * The core subscribes here while the provider is set: `listener` is called after states changed,
   * with the LUNs affected (undefined: every LU), and establishes ASYMMETRIC ACCESS STATE CHANGED.
   * Returns the unsubscribe function.
   */
  onChange?(listener: (luns: readonly number[] | undefined) => void): () => void;
}

/**
 * The access state of this target's port for `lu`. A local group missing from `groups(lu)` is a
 * provider fault: the port is then treated as unavailable rather than let I/O through.
 */
export function localAccessState(provider: AluaProvider, lu: LogicalUnit): AccessState {
  const local = provider.localGroup(lu).groupId;
  for (const g of provider.groups(lu)) if (g.id === local) return g.state;
  return AccessState.UNAVAILABLE;
}

export interface TargetPortGroupConfig {
  readonly id: number;
  readonly state: AccessState;
  readonly preferred?: boolean;
  readonly relativeTargetPortIds: readonly number[];
}

export interface AluaModelOptions {
  readonly groups: readonly TargetPortGroupConfig[];
  readonly local: LocalTargetPort;
  readonly supportedStates?: readonly AccessState[];
  readonly implicitTransitionSeconds?: number;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`ALUA: ${message}`);
}

function isU16(n: number, min: number): boolean {
  return Number.isInteger(n) && n >= min && n <= 0xffff;
}

/**
 * An in-memory ALUA model, the same for every LU of the target: groups with their states, and this
 * target's port among them. `setState` / `setStates` change states implicitly (STATUS CODE 02h)
 * and tell the core, which establishes ASYMMETRIC ACCESS STATE CHANGED for every I_T nexus.
 */
export class AluaModel implements AluaProvider {
  readonly supportedStates: readonly AccessState[];
  readonly implicitTransitionSeconds: number;
  private current: readonly TargetPortGroup[];
  private readonly local: LocalTargetPort;
  private readonly listeners = new Set<(luns: readonly number[] | undefined) => void>();

  constructor(opts: AluaModelOptions) {
    this.supportedStates = Object.freeze([...(opts.supportedStates ?? ALL_ACCESS_STATES)]);
    this.implicitTransitionSeconds = opts.implicitTransitionSeconds ?? 0;
    check(Number.isInteger(this.implicitTransitionSeconds) && this.implicitTransitionSeconds >= 0 && this.implicitTransitionSeconds <= 255, 'implicit transition time must be 0..255 s');
    const ids = new Set<number>();
    const ports = new Set<number>();
    for (const g of opts.groups) {
      check(isU16(g.id, 0), `target port group id ${g.id} is not 0..65535`);
      check(!ids.has(g.id), `target port group ${g.id} defined twice`);
      ids.add(g.id);
      this.checkSupported(g.state);
      check(g.relativeTargetPortIds.length <= 255, `target port group ${g.id} has more than 255 ports`);
      for (const p of g.relativeTargetPortIds) {
        check(isU16(p, 1), `relative target port id ${p} is not 1..65535`);
        check(!ports.has(p), `relative target port id ${p} is in two groups`);
        ports.add(p);
      }
    }
    const home = opts.groups.find((g) => g.id === opts.local.groupId);
    check(home !== undefined, `local target port group ${opts.local.groupId} is not defined`);
    check(home!.relativeTargetPortIds.includes(opts.local.relativeTargetPortId), `local relative target port id ${opts.local.relativeTargetPortId} is not in group ${opts.local.groupId}`);
    this.local = Object.freeze({ ...opts.local });
    this.current = Object.freeze(
      opts.groups.map((g) =>
        Object.freeze({ id: g.id, state: g.state, preferred: g.preferred ?? false, status: AccessStatus.NONE, relativeTargetPortIds: Object.freeze([...g.relativeTargetPortIds]) }),
      ),
    );
  }

  groups(): readonly TargetPortGroup[] {
    return this.current;
  }

  localGroup(): LocalTargetPort {
    return this.local;
  }

  /** The state of group `groupId`, or undefined for no such group. */
  stateOf(groupId: number): AccessState | undefined {
    return this.current.find((g) => g.id === groupId)?.state;
  }

  onChange(listener: (luns: readonly number[] | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One group changes state; see setStates. */
  setState(groupId: number, state: AccessState): boolean {
    return this.setStates(new Map([[groupId, state]]));
  }

  /**
   * Several groups change state at once (one unit attention, not one per group). Throws, changing
   * nothing, for an unknown group or an unsupported state. True when some state actually changed:
   * only then are the listeners told (and the changed groups' STATUS CODE becomes 02h, implicit).
   */
  setStates(changes: ReadonlyMap<number, AccessState>): boolean {
    for (const [id, state] of changes) {
      check(this.current.some((g) => g.id === id), `no target port group ${id}`);
      this.checkSupported(state);
    }
    let changed = false;
    this.current = Object.freeze(
      this.current.map((g) => {
        const state = changes.get(g.id);
        if (state === undefined || state === g.state) return g;
        changed = true;
        return Object.freeze({ ...g, state, status: AccessStatus.IMPLICIT });
      }),
    );
    if (changed) for (const listener of this.listeners) listener(undefined);
    return changed;
  }

  private checkSupported(state: AccessState): void {
    check(this.supportedStates.includes(state), `access state ${state.toString(16)}h is not supported`);
  }
}
