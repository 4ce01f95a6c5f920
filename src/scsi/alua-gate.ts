import { AccessState, localAccessState, type AluaProvider } from './alua.js';
import type { LogicalUnit } from './logical-unit.js';
import { isInventoryCommand, Opcode, ServiceAction, serviceActionOf } from './opcode.js';
import { Sense, type SenseReason } from './sense-reasons.js';
import { SA_REPORT_TARGET_PORT_GROUPS } from './spc/report-target-port-groups.js';

const MODE_SELECT_6 = 0x15;
const MODE_SELECT_10 = 0x55;
const LOG_SELECT = 0x4c;
const PERSISTENT_RESERVE_IN = 0x5e;
const PERSISTENT_RESERVE_OUT = 0x5f;

/**
 * Allowed in every access state: INQUIRY, REPORT LUNS, REQUEST SENSE and REPORT TARGET PORT GROUPS
 * (SPC-4 5.9.2.4), plus REPORT SUPPORTED OPERATION CODES / TASK MANAGEMENT FUNCTIONS, which only
 * describe the device server (SPC-4 lets it support other commands in these states).
 */
function allowedInAnyState(cdb: Buffer): boolean {
  if (isInventoryCommand(cdb)) return true;
  return cdb[0] === Opcode.MAINTENANCE_IN && serviceActionOf(cdb) === SA_REPORT_TARGET_PORT_GROUPS;
}

/**
 * Standby (SPC-4 5.9.2.4.4) adds what reads or sets the LU's parameters without its medium: MODE
 * SENSE/SELECT, LOG SENSE/SELECT, READ CAPACITY(10)/(16), PERSISTENT RESERVE IN/OUT. Not TEST UNIT
 * READY: it answers 04h/0Bh, which multipath's TUR checker shows as a standby ("ghost") path.
 */
function allowedInStandby(cdb: Buffer): boolean {
  switch (cdb[0]) {
    case Opcode.MODE_SENSE_6:
    case Opcode.MODE_SENSE_10:
    case MODE_SELECT_6:
    case MODE_SELECT_10:
    case Opcode.LOG_SENSE:
    case LOG_SELECT:
    case Opcode.READ_CAPACITY_10:
    case PERSISTENT_RESERVE_IN:
    case PERSISTENT_RESERVE_OUT:
      return true;
    case Opcode.SERVICE_ACTION_IN_16:
      return serviceActionOf(cdb) === ServiceAction.READ_CAPACITY_16;
    default:
      return allowedInAnyState(cdb);
  }
}

/**
 * What this target port's access state for `lu` answers instead of running `cdb`, or undefined:
 * active (optimized or not) runs everything; standby, unavailable and transitioning refuse what
 * they do not allow with NOT READY, LOGICAL UNIT NOT ACCESSIBLE, 0Bh / 0Ch / 0Ah.
 */
export function aluaRefusal(provider: AluaProvider, lu: LogicalUnit, cdb: Buffer): SenseReason | undefined {
  switch (localAccessState(provider, lu)) {
    case AccessState.ACTIVE_OPTIMIZED:
    case AccessState.ACTIVE_NON_OPTIMIZED:
      return undefined;
    case AccessState.STANDBY:
      return allowedInStandby(cdb) ? undefined : Sense.targetPortInStandbyState;
    case AccessState.UNAVAILABLE:
      return allowedInAnyState(cdb) ? undefined : Sense.targetPortInUnavailableState;
    case AccessState.TRANSITIONING:
      return allowedInAnyState(cdb) ? undefined : Sense.asymmetricAccessStateTransition;
  }
}
