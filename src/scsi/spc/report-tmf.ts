import { checkControlByte } from '../cdb.js';
import { parameterData, type LuCommandHandler } from '../handler.js';
import { Opcode, ServiceAction } from '../opcode.js';

const { MAINTENANCE_IN } = Opcode;
const SA_REPORT_SUPPORTED_TMFS = ServiceAction.REPORT_SUPPORTED_TMFS;

/**
 * The task management functions the transport carries out (see target-core.ts): ABORT TASK (ATS),
 * ABORT TASK SET (ATSS), CLEAR TASK SET (CTSS), LOGICAL UNIT RESET (LURS), TARGET RESET (TRS).
 * No CLEAR ACA (no ACA), QUERY TASK or I_T NEXUS RESET (iSCSI has no such TMF code).
 */
const SUPPORTED = 0x80 | 0x40 | 0x10 | 0x08 | 0x02;

/** Parameter data (SPC-4): 4 bytes, or 16 with REPTD (extended format, no timeouts reported). */
export function supportedTmfData(extended: boolean): Buffer {
  const b = Buffer.alloc(extended ? 16 : 4);
  b[0] = SUPPORTED;
  if (extended) b[3] = 0x0c; // ADDITIONAL DATA LENGTH
  return b;
}

export const reportSupportedTmfs: LuCommandHandler = {
  name: 'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS',
  opcode: MAINTENANCE_IN,
  serviceAction: SA_REPORT_SUPPORTED_TMFS,
  cdbLength: 12,
  usage: [MAINTENANCE_IN, SA_REPORT_SUPPORTED_TMFS, 0x80, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  cls: 'other',
  parse({ cdb }) {
    const control = checkControlByte(cdb, 12);
    if (control) return control;
    const allocation = cdb.readUInt32BE(6);
    return parameterData(supportedTmfData((cdb[2] & 0x80) !== 0), allocation);
  },
};
