import type { Logger } from 'pino';
import type { Nexus } from '../scsi/command.js';
import type { ScsiTargetCore } from '../scsi/target-core.js';
import type { ByteBudget } from './byte-budget.js';
import type { CmdSnWindow } from './cmdsn-window.js';
import type { ConnectionLink } from './connection-link.js';
import type { SessionParams } from './session-params.js';
import type { TaskTable } from './task-table.js';

/** Target-wide limits a session works within. */
export interface SessionLimits {
  /** Target-wide bound on write data held in memory, with a per-session share (byte-budget.ts). */
  readonly writeBudget: ByteBudget;
  /** Target-wide bound on Data-In being read or queued, with a per-connection share. */
  readonly readBudget: ByteBudget;
  /** Immediate SCSI commands outstanding at once; more are rejected (RFC 7143 reason 06h). */
  readonly maxImmediateCommands: number;
  /** How long a write waits for Data-Out the initiator owes before it ends (ms). */
  readonly dataOutTimeoutMs: number;
}

/** Plain per-session counters, bumped on the hot path (no allocation); the admin API reads them. */
export class SessionCounters {
  /** SCSI commands answered (one response each). */
  commands = 0;
  /** Data-In payload bytes sent. */
  readBytes = 0;
  /** Write payload bytes received (immediate data and Data-Out) for answered commands. */
  writtenBytes = 0;
}

/** What the session's PDU handlers (command intake, Data-Out, completion, TMF, logout) share. */
export interface SessionHost {
  readonly conn: ConnectionLink;
  readonly params: SessionParams;
  readonly window: CmdSnWindow;
  readonly tasks: TaskTable;
  readonly nexus: Nexus;
  /** The target's SCSI core; absent in a discovery session, which carries no SCSI commands. */
  readonly scsi: ScsiTargetCore | undefined;
  readonly limits: SessionLimits;
  readonly counters: SessionCounters;
  readonly log: Logger;
  /** Run `deliver` in CmdSN order (immediate: at once); false, logged, when the CmdSN is outside the window. */
  ordered(cmdSN: number, immediate: boolean, deliver: () => void): boolean;
  /** Run an async handler whose failure must not go unnoticed (it closes the connection, never the process). */
  background(work: Promise<void>, what: string): void;
}
