/** Operation codes and service actions (SPC-4, SBC-4) that more than one module names. */
export const Opcode = {
  REQUEST_SENSE: 0x03,
  INQUIRY: 0x12,
  MODE_SENSE_6: 0x1a,
  READ_CAPACITY_10: 0x25,
  SANITIZE: 0x48,
  LOG_SENSE: 0x4d,
  MODE_SENSE_10: 0x5a,
  /** SERVICE ACTION IN(16): READ CAPACITY(16), GET LBA STATUS. */
  SERVICE_ACTION_IN_16: 0x9e,
  REPORT_LUNS: 0xa0,
  /** MAINTENANCE IN: REPORT SUPPORTED OPERATION CODES / TASK MANAGEMENT FUNCTIONS. */
  MAINTENANCE_IN: 0xa3,
} as const;

/** SERVICE ACTION values, in byte 1 bits 4..0 of the opcode they belong to. */
export const ServiceAction = {
  READ_CAPACITY_16: 0x10,
  GET_LBA_STATUS: 0x12,
  REPORT_SUPPORTED_OPERATION_CODES: 0x0c,
  REPORT_SUPPORTED_TMFS: 0x0d,
} as const;

export function serviceActionOf(cdb: Buffer): number {
  return cdb[1]! & 0x1f;
}

/**
 * Who the LU is and what it supports: INQUIRY, REPORT LUNS, REQUEST SENSE, REPORT SUPPORTED
 * OPERATION CODES / TASK MANAGEMENT FUNCTIONS. They need no medium, so an LU still answers them
 * while its storage is offline or being sanitized.
 */
export function isInventoryCommand(cdb: Buffer): boolean {
  switch (cdb[0]) {
    case Opcode.INQUIRY:
    case Opcode.REPORT_LUNS:
    case Opcode.REQUEST_SENSE:
      return true;
    case Opcode.MAINTENANCE_IN: {
      const action = serviceActionOf(cdb);
      return action === ServiceAction.REPORT_SUPPORTED_OPERATION_CODES || action === ServiceAction.REPORT_SUPPORTED_TMFS;
    }
    default:
      return false;
  }
}
