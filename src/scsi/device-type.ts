import type { Nexus } from './command.js';
import type { CommandHandler, TargetInfo } from './handler.js';
import type { LogicalUnit } from './logical-unit.js';
import type { SenseReason } from './sense-reasons.js';

/**
 * What device-type code registers with the generic core (as LIO's sbc/spc split does with
 * target_core_transport): its opcode table, the VPD pages it answers, the gates its state puts in
 * front of commands, and what a reset or nexus loss clears of that state. The core knows nothing
 * of disks; `disk.ts` assembles the direct-access device (SPC + SBC + reservations) from these parts.
 */
export interface DeviceType {
  /** INQUIRY PERIPHERAL DEVICE TYPE (00h: direct access block device). */
  readonly peripheralType: number;
  /** INQUIRY version descriptor of the command set standard claimed, after SAM-5 and SPC-4 (SBC-3: 04C0h). */
  readonly commandSetVersion: number;
  /** Every command an LU of this type answers. */
  readonly handlers: readonly CommandHandler[];
  /** Every VPD page, ascending by page code (SPC requires that order of the supported pages list). */
  readonly vpdPages: readonly VpdPage[];
  /** Checked in order after the core's own (offline) gate, before the CDB is parsed. */
  readonly gates: readonly CommandGate[];
  /** REQUEST SENSE's pollable sense when no unit attention is pending and the LU is online (SPC-4 5.12). */
  pollableSense(lu: LogicalUnit): SenseReason | undefined;
  /** LOGICAL UNIT RESET / TARGET RESET: the device-type state a reset clears. */
  reset(lu: LogicalUnit): void;
  /** I_T nexus loss: forget what that nexus held. */
  nexusLost(lu: LogicalUnit, nexusId: number): void;
}

/** A condition of the LU that answers commands with a sense reason instead of running them. */
export interface CommandGate {
  /** What the LU answers instead of running `cdb` (from any nexus), or undefined to let it pass. */
  refusal(lu: LogicalUnit, cdb: Buffer): SenseReason | undefined;
  /** Checked again when a queued task starts: the condition may have begun while it waited. */
  readonly recheckAtStart: boolean;
}

/** What a VPD page builder may look at. */
export interface VpdContext {
  readonly lu: LogicalUnit;
  readonly nexus: Nexus;
  readonly target: TargetInfo;
}

export interface VpdPage {
  readonly code: number;
  /** The page body, after the 4-byte page header. */
  build(ctx: VpdContext): Buffer;
  /** Only for LUs where this holds (listed and answered). */
  when?(lu: LogicalUnit): boolean;
}

/** VPD pages of several standards merged into the ascending order SPC requires. */
export function byPageCode(...lists: readonly (readonly VpdPage[])[]): readonly VpdPage[] {
  return Object.freeze(lists.flat().sort((a, b) => a.code - b.code));
}
