import { ScsiStatus, type ScsiResponse } from './command.js';
import type { LogicalUnit } from './logical-unit.js';
import type { Outcome } from './outcome.js';
import { buildSense, type SenseFormat } from './sense.js';

/** The LU's sense format: descriptor when its control mode page has D_SENSE set; fixed without an LU. */
export function senseFormatOf(lu: LogicalUnit | undefined): SenseFormat {
  return lu?.descriptorSense ? 'descriptor' : 'fixed';
}

/**
 * The one place where a handler's outcome becomes what the transport sends:
 * status, sense bytes in the LU's format (D_SENSE), data-in, and the SPDTL of a data-out command.
 */
export function toResponse(outcome: Outcome, format: SenseFormat, dataOutTransferLength?: number): ScsiResponse {
  switch (outcome.kind) {
    case 'good':
      return {
        status: ScsiStatus.GOOD,
        dataIn: outcome.data,
        release: outcome.release,
        dataOutTransferLength,
      };
    case 'status':
      return { status: outcome.status, dataOutTransferLength };
    case 'sense':
      return { status: ScsiStatus.CHECK_CONDITION, sense: buildSense(outcome, format), dataOutTransferLength };
  }
}
