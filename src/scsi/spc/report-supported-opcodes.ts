import { checkControlByte } from '../cdb.js';
import { parameterData, type CommandHandler, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import { Opcode, ServiceAction } from '../opcode.js';
import { Sense, type SenseReason } from '../sense-reasons.js';

const { MAINTENANCE_IN } = Opcode;
const SA_REPORT_SUPPORTED_OPERATION_CODES = ServiceAction.REPORT_SUPPORTED_OPERATION_CODES;

const SUPPORT_NOT_SUPPORTED = 0x01;
const SUPPORT_STANDARD = 0x03;

/** Command timeouts descriptor (SPC-4): zero timeouts = "not specified". */
function timeoutsDescriptor(): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0x0a, 0);
  return b;
}

function byOpcodeThenAction(a: CommandHandler, b: CommandHandler): number {
  return a.opcode - b.opcode || (a.serviceAction ?? 0) - (b.serviceAction ?? 0);
}

/** REPORTING OPTIONS 000b: every supported command, 8-byte descriptors (+ timeouts when RCTD). */
export function allCommandsData(handlers: readonly CommandHandler[], rctd: boolean): Buffer {
  const descriptors = [...handlers].sort(byOpcodeThenAction).map((h) => {
    const d = Buffer.alloc(8);
    d[0] = h.opcode;
    d.writeUInt16BE(h.serviceAction ?? 0, 2);
    d[5] = (rctd ? 0x02 : 0) | (h.serviceAction !== undefined ? 0x01 : 0); // CTDP | SERVACTV
    d.writeUInt16BE(h.cdbLength, 6);
    return rctd ? Buffer.concat([d, timeoutsDescriptor()]) : d;
  });
  const body = Buffer.concat(descriptors);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/** One-command format: SUPPORT, CDB SIZE and the CDB USAGE DATA bit map. */
export function oneCommandData(handler: CommandHandler | undefined, rctd: boolean): Buffer {
  if (!handler) return Buffer.from([0, SUPPORT_NOT_SUPPORTED, 0, 0]);
  const b = Buffer.alloc(4 + handler.cdbLength);
  b[1] = (rctd ? 0x80 : 0) | SUPPORT_STANDARD;
  b.writeUInt16BE(handler.cdbLength, 2);
  Buffer.from(handler.usage).copy(b, 4);
  return rctd ? Buffer.concat([b, timeoutsDescriptor()]) : b;
}

/**
 * REPORT SUPPORTED OPERATION CODES (SPC-4), built from the opcode table itself.
 * Reporting options 000b-011b; asking for an opcode in the wrong form (with or without a
 * service action) is an INVALID FIELD IN CDB on REPORTING OPTIONS.
 */
function parseRsoc(cdb: Buffer, handlers: readonly CommandHandler[]): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, 12);
  if (control) return control;
  const rctd = (cdb[2] & 0x80) !== 0;
  const option = cdb[2] & 0x07;
  const opcode = cdb[3];
  const serviceAction = cdb.readUInt16BE(4);
  const allocation = cdb.readUInt32BE(6);
  const withOpcode = handlers.filter((h) => h.opcode === opcode);
  const hasServiceActions = withOpcode.some((h) => h.serviceAction !== undefined);
  let data: Buffer;
  switch (option) {
    case 0:
      data = allCommandsData(handlers, rctd);
      break;
    case 1:
      if (hasServiceActions) return Sense.invalidFieldInCdb(2, 2);
      data = oneCommandData(withOpcode[0], rctd);
      break;
    case 2:
      if (withOpcode.length > 0 && !hasServiceActions) return Sense.invalidFieldInCdb(2, 2);
      data = oneCommandData(
        withOpcode.find((h) => h.serviceAction === serviceAction),
        rctd,
      );
      break;
    case 3:
      data = oneCommandData(
        hasServiceActions ? withOpcode.find((h) => h.serviceAction === serviceAction) : withOpcode[0],
        rctd,
      );
      break;
    default:
      return Sense.invalidFieldInCdb(2, 2);
  }
  return parameterData(data, allocation);
}

export const reportSupportedOperationCodes: LuCommandHandler = {
  name: 'REPORT SUPPORTED OPERATION CODES',
  opcode: MAINTENANCE_IN,
  serviceAction: SA_REPORT_SUPPORTED_OPERATION_CODES,
  cdbLength: 12,
  usage: [MAINTENANCE_IN, SA_REPORT_SUPPORTED_OPERATION_CODES, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  cls: 'other',
  parse: ({ cdb, lu, target }) => parseRsoc(cdb, target.deviceType.handlers.filter((h) => !h.supported || h.supported(lu))),
};
