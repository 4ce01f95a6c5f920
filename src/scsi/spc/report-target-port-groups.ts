import { AccessState, ALL_ACCESS_STATES, type AluaProvider, type TargetPortGroup } from '../alua.js';
import { checkControlByte } from '../cdb.js';
import { parameterData, type LuCommandHandler } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { Opcode } from '../opcode.js';
import { Sense } from '../sense-reasons.js';

const { MAINTENANCE_IN } = Opcode;
export const SA_REPORT_TARGET_PORT_GROUPS = 0x0a;

/** PARAMETER DATA FORMAT (CDB byte 1 bits 7..5): length-only header, or the extended one. */
const FORMAT_LENGTH_ONLY = 0;
const FORMAT_EXTENDED = 1;
const LENGTH_ONLY_HEADER = 4;
const EXTENDED_HEADER = 8;
const DESCRIPTOR = 8;
const PORT = 4;

/** The supported-state bit (byte 1 of a descriptor) of each state: T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP. */
const SUPPORT_BIT: Record<AccessState, number> = {
  [AccessState.TRANSITIONING]: 0x80,
  [AccessState.UNAVAILABLE]: 0x08,
  [AccessState.STANDBY]: 0x04,
  [AccessState.ACTIVE_NON_OPTIMIZED]: 0x02,
  [AccessState.ACTIVE_OPTIMIZED]: 0x01,
};

export function supportedStateBits(states: readonly AccessState[]): number {
  return states.reduce<number>((bits, s) => bits | SUPPORT_BIT[s], 0);
}

export interface RtpgOptions {
  readonly extended: boolean;
  /** Byte 1 of every descriptor (supportedStateBits). */
  readonly supported: number;
  /** IMPLICIT TRANSITION TIME (extended header only), seconds. */
  readonly implicitTransitionSeconds: number;
}

/**
 * REPORT TARGET PORT GROUPS parameter data (SPC-4): the header, then one descriptor per group
 * (groups without a port are left out). RETURN DATA LENGTH counts every byte after itself, in
 * both formats (what Linux scsi_dh_alua and sg_rtpg read: they stop at RETURN DATA LENGTH + 4);
 * the caller cuts the whole to the ALLOCATION LENGTH, so the length always tells the full size.
 */
export function targetPortGroupsData(groups: readonly TargetPortGroup[], opts: RtpgOptions): Buffer {
  const listed = groups.filter((g) => g.relativeTargetPortIds.length > 0);
  const header = opts.extended ? EXTENDED_HEADER : LENGTH_ONLY_HEADER;
  const size = listed.reduce((n, g) => n + DESCRIPTOR + PORT * g.relativeTargetPortIds.length, header);
  const b = Buffer.alloc(size);
  b.writeUInt32BE(size - 4, 0); // RETURN DATA LENGTH
  if (opts.extended) {
    b[4] = 0x10; // FORMAT TYPE 001b
    b[5] = Math.min(255, Math.max(0, opts.implicitTransitionSeconds)); // IMPLICIT TRANSITION TIME
  }
  let at = header;
  for (const g of listed) {
    b[at] = (g.preferred ? 0x80 : 0) | g.state; // PREF | ASYMMETRIC ACCESS STATE
    b[at + 1] = opts.supported;
    b.writeUInt16BE(g.id, at + 2); // TARGET PORT GROUP
    b[at + 5] = g.status; // STATUS CODE
    b[at + 7] = g.relativeTargetPortIds.length; // TARGET PORT COUNT
    at += DESCRIPTOR;
    for (const port of g.relativeTargetPortIds) {
      b.writeUInt16BE(port, at + 2); // RELATIVE TARGET PORT IDENTIFIER
      at += PORT;
    }
  }
  return b;
}

/** The parameter data for `lu` as `provider` sees it now. */
export function reportFor(provider: AluaProvider, lu: LogicalUnit, extended: boolean): Buffer {
  return targetPortGroupsData(provider.groups(lu), {
    extended,
    supported: supportedStateBits(provider.supportedStates ?? ALL_ACCESS_STATES),
    implicitTransitionSeconds: provider.implicitTransitionSeconds ?? 0,
  });
}

/**
 * REPORT TARGET PORT GROUPS (MAINTENANCE IN, service action 0Ah; SPC-4). Only in the opcode table
 * while the core has an AluaProvider (target-core.ts); a PARAMETER DATA FORMAT other than 000b or
 * 001b is an INVALID FIELD IN CDB pointing at it. The data is built when the command runs: a state
 * change while it waited in the task set is what it reports.
 */
export const reportTargetPortGroups: LuCommandHandler = {
  name: 'REPORT TARGET PORT GROUPS',
  opcode: MAINTENANCE_IN,
  serviceAction: SA_REPORT_TARGET_PORT_GROUPS,
  cdbLength: 12,
  usage: [MAINTENANCE_IN, 0xe0 | SA_REPORT_TARGET_PORT_GROUPS, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  cls: 'other',
  parse({ cdb, lu, target }) {
    const control = checkControlByte(cdb, 12);
    if (control) return control;
    const provider = target.alua;
    // Not reachable through the table without a provider; answered as an unknown service action.
    if (!provider) return Sense.invalidFieldInCdb(1, 4);
    const format = cdb[1] >> 5;
    if (format !== FORMAT_LENGTH_ONLY && format !== FORMAT_EXTENDED) return Sense.invalidFieldInCdb(1, 7);
    const allocation = cdb.readUInt32BE(6);
    return parameterData(() => reportFor(provider, lu, format === FORMAT_EXTENDED), allocation);
  },
};
