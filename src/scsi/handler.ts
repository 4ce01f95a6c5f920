import type { CancelSignal } from '../block/cancel.js';
import type { AluaProvider } from './alua.js';
import type { SgVector } from '../block/sg.js';
import { truncateToAllocation } from './cdb.js';
import type { Nexus } from './command.js';
import type { DeviceType } from './device-type.js';
import type { LogicalUnit } from './logical-unit.js';
import { goodData, type Outcome } from './outcome.js';
import type { SenseReason } from './sense-reasons.js';
import type { CommandClass } from './stats.js';

/** What a handler may know of the target around its LU. */
export interface TargetInfo {
  readonly targetName: string;
  /** SPC protocol identifier of the transport (iSCSI = 5h), for target port designators. */
  readonly protocolId: number;
  readonly lunNumbers: readonly number[];
  /** What the LUs are: the opcode table (REPORT SUPPORTED OPERATION CODES), VPD pages, pollable sense. */
  readonly deviceType: DeviceType;
  /** Every LU of the target, for EXTENDED COPY between them (spc/xcopy*.ts). */
  readonly logicalUnits?: readonly LogicalUnit[];
  /** True for an LU this nexus reaches through a read-only LUN mapping (nexus-view.ts). */
  readonly mappedReadOnly?: (lu: LogicalUnit) => boolean;
  /** Asymmetric access (alua.ts) when set: INQUIRY TPGS, VPD 83h port designators, REPORT TARGET PORT GROUPS. */
  readonly alua?: AluaProvider;
}

/** Writes to `lu` are refused for this command: the LU is read-only, or read-only for this nexus. */
export function isWriteProtected(lu: LogicalUnit, target: TargetInfo): boolean {
  return lu.readOnly || target.mappedReadOnly?.(lu) === true;
}

export interface CommandContext<L extends LogicalUnit | undefined> {
  readonly cdb: Buffer;
  readonly lu: L;
  readonly nexus: Nexus;
  readonly target: TargetInfo;
}

/** Second phase input: the payload (if any) and the task's abort signal. */
export interface RunInput {
  readonly dataOut?: SgVector;
  /**
   * Bytes of Data-Out the transport was asked for: `dataOutLength`, or less when the initiator's
   * expected length cut it down to a multiple of `dataOutGranularity`.
   */
  readonly dataOutLength: number;
  readonly signal: CancelSignal;
}

/** A decoded, checked CDB, ready to run once its data (if any) is in. */
export interface ParsedCommand {
  /** Bytes the CDB asks the initiator to send (SPDTL of a data-out command); 0 for others. */
  readonly dataOutLength: number;
  /**
   * When set, an initiator expected length (EDTL) below `dataOutLength` that is a multiple of
   * this still runs, on the first EDTL bytes only (FCP-4: "process the command normally except
   * that data beyond the expected length is not transferred"). Unset: such a command is refused.
   */
  readonly dataOutGranularity?: number;
  /**
   * When set, any initiator expected length other than `dataOutLength` is refused with this
   * (COMPARE AND WRITE: a length that disagrees with NUMBER OF LOGICAL BLOCKS is a bad CDB).
   */
  readonly onDataOutMismatch?: SenseReason;
  run(input: RunInput): Promise<Outcome> | Outcome;
}

interface HandlerInfo {
  readonly name: string;
  readonly opcode: number;
  /** For opcodes that carry a SERVICE ACTION in byte 1, bits 4..0. */
  readonly serviceAction?: number;
  readonly cdbLength: number;
  /** CDB USAGE DATA for REPORT SUPPORTED OPERATION CODES: byte 0 the opcode, then the bits we look at. */
  readonly usage: readonly number[];
  readonly cls: CommandClass;
  /** Neither reports nor clears unit attentions (INQUIRY, REPORT LUNS, REQUEST SENSE: SPC-4). */
  readonly bypassesUnitAttention?: boolean;
  /** Only on some LUs (SANITIZE BLOCK ERASE: thin ones): REPORT SUPPORTED OPERATION CODES lists it there only. */
  readonly supported?: (lu: LogicalUnit | undefined) => boolean;
}

/** A command that needs its LU (every disk command). */
export interface LuCommandHandler extends HandlerInfo {
  readonly anyLun?: false;
  parse(ctx: CommandContext<LogicalUnit>): ParsedCommand | SenseReason;
}

/** A command that also answers for a LUN with no LU behind it (INQUIRY, REPORT LUNS, REQUEST SENSE). */
export interface AnyLunCommandHandler extends HandlerInfo {
  readonly anyLun: true;
  parse(ctx: CommandContext<LogicalUnit | undefined>): ParsedCommand | SenseReason;
}

export type CommandHandler = LuCommandHandler | AnyLunCommandHandler;

/**
 * What INQUIRY, REPORT LUNS and REQUEST SENSE share (SPC-4, SAM-5): they answer for a LUN without
 * an LU, and neither report nor clear a unit attention (REQUEST SENSE returns one as its data).
 */
export const ANSWERS_ANY_LUN = { cls: 'other', anyLun: true, bypassesUnitAttention: true } as const;

/** A command without data-out whose answer is already known once decoded. */
export function immediate(outcome: Outcome | (() => Outcome)): ParsedCommand {
  return { dataOutLength: 0, run: typeof outcome === 'function' ? outcome : () => outcome };
}

/**
 * A command that answers with parameter data (INQUIRY, MODE SENSE, REPORT ...), cut to its
 * ALLOCATION LENGTH. A function is called when the command runs (what may change while it waits in
 * the task set: unit attentions, the LUN inventory, mode parameters); a buffer is final already.
 */
export function parameterData(data: Buffer | (() => Buffer), allocation: number): ParsedCommand {
  if (typeof data !== 'function') return immediate(goodData(truncateToAllocation(data, allocation)));
  return immediate(() => goodData(truncateToAllocation(data(), allocation)));
}

/**
 * A command whose Data-Out is the `blocks` blocks it writes: an initiator expecting to send fewer
 * whole blocks gets the command run on those (see ParsedCommand.dataOutGranularity).
 */
export function blocksOut(blockSize: number, blocks: number, run: ParsedCommand['run']): ParsedCommand {
  return { dataOutLength: blocks * blockSize, dataOutGranularity: blockSize, run };
}
