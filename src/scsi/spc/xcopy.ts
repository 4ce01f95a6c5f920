import { checkControlByte, truncateToAllocation } from '../cdb.js';
import { immediate, isWriteProtected, parameterData, type LuCommandHandler, type ParsedCommand } from '../handler.js';
import { GOOD, goodData, type Outcome } from '../outcome.js';
import { isSenseReason, Sense, type SenseReason } from '../sense-reasons.js';
import { planCopy, runCopy } from './xcopy-copy.js';
import {
  EXTENDED_COPY,
  RECEIVE_COPY_RESULTS,
  SA_COPY_STATUS,
  SA_EXTENDED_COPY_LID1,
  SA_OPERATING_PARAMETERS,
  XcopyLimits,
} from './xcopy-limits.js';
import { parseXcopyParams } from './xcopy-params.js';
import { copyStatusData, operatingParametersData } from './xcopy-results.js';
import { CopyState, registryFor } from './xcopy-status.js';

const CDB_LENGTH = 16;

/**
 * EXTENDED COPY (LID1, SPC-4 6.4): block-to-block segments between LUs of this target named by
 * CSCD identification descriptors. Everything is checked before a block moves; the copy then
 * runs in bounded read-then-write chunks through the LUs' block devices.
 */
export const extendedCopyLid1: LuCommandHandler = {
  name: 'EXTENDED COPY(LID1)',
  opcode: EXTENDED_COPY,
  serviceAction: SA_EXTENDED_COPY_LID1,
  cdbLength: CDB_LENGTH,
  usage: [EXTENDED_COPY, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x00],
  // Not 'write': its Data-Out is a parameter list, not blocks written.
  cls: 'other',
  parse({ cdb, lu, nexus, target }): ParsedCommand | SenseReason {
    const control = checkControlByte(cdb, CDB_LENGTH);
    if (control) return control;
    const length = cdb.readUInt32BE(10);
    if (length === 0) return immediate(GOOD); // SPC-4: not an error, nothing to do
    if (length > XcopyLimits.maxParameterListLength) return Sense.invalidFieldInCdb(10);
    const lus = target.logicalUnits ?? [lu];
    return {
      dataOutLength: length,
      run: async ({ dataOut, dataOutLength, signal }): Promise<Outcome> => {
        if (!dataOut || dataOut.length < dataOutLength) return Sense.dataPhaseError;
        const params = parseXcopyParams(dataOut.toBuffer().subarray(0, dataOutLength));
        if (isSenseReason(params)) return params;
        const registry = registryFor(target);
        const tracked = params.listIdUsage !== 3;
        if (tracked && registry.inProgress(nexus.id, params.listId)) return Sense.operationInProgress;
        const plan = planCopy(params.targets, params.segments, lus, nexus, (l) => isWriteProtected(l, target));
        if (!Array.isArray(plan)) return plan as Outcome;
        const record = tracked ? registry.start(nexus.id, params.listId) : undefined;
        if (tracked && !record) return Sense.operationInProgress;
        const progress = record ?? { segmentsProcessed: 0, bytesCopied: 0 };
        let outcome: Outcome = Sense.internalTargetFailure;
        try {
          outcome = await runCopy(plan, signal, progress);
        } finally {
          // Even if the copy threw, the list id must not stay "in progress" forever.
          if (record) record.state = outcome === GOOD ? CopyState.DONE : CopyState.FAILED;
        }
        return outcome;
      },
    };
  },
};

/** RECEIVE COPY RESULTS (SPC-4 6.18): COPY STATUS of this nexus's list ids, and OPERATING PARAMETERS. */
function receiveCopyResults(serviceAction: number, name: string): LuCommandHandler {
  return {
    name: `RECEIVE COPY RESULTS(${name})`,
    opcode: RECEIVE_COPY_RESULTS,
    serviceAction,
    cdbLength: CDB_LENGTH,
    usage: [RECEIVE_COPY_RESULTS, 0x1f, serviceAction === SA_COPY_STATUS ? 0xff : 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x00],
    cls: 'other',
    parse({ cdb, nexus, target }): ParsedCommand | SenseReason {
      const control = checkControlByte(cdb, CDB_LENGTH);
      if (control) return control;
      const allocation = cdb.readUInt32BE(10);
      if (serviceAction === SA_OPERATING_PARAMETERS) {
        return parameterData(operatingParametersData, allocation);
      }
      const listId = cdb[2]!;
      return immediate(() => {
        const registry = registryFor(target);
        const record = registry.get(nexus.id, listId);
        if (!record) return Sense.invalidFieldInCdb(2);
        const data = copyStatusData(record);
        registry.forgetIfDone(nexus.id, listId);
        return goodData(truncateToAllocation(data, allocation));
      });
    },
  };
}

export const receiveCopyStatus = receiveCopyResults(SA_COPY_STATUS, 'COPY STATUS');
export const receiveOperatingParameters = receiveCopyResults(SA_OPERATING_PARAMETERS, 'OPERATING PARAMETERS');

/** The opcode table entries of this module. */
export const xcopyHandlers: readonly LuCommandHandler[] = [extendedCopyLid1, receiveCopyStatus, receiveOperatingParameters];
