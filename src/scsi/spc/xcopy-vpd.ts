import { codedPage } from '../cdb.js';
import {
  EXTENDED_COPY,
  IMPLEMENTED_DESCRIPTOR_TYPES,
  RECEIVE_COPY_RESULTS,
  SA_COPY_STATUS,
  SA_EXTENDED_COPY_LID1,
  SA_OPERATING_PARAMETERS,
  XcopyLimits,
} from './xcopy-limits.js';

export const VPD_THIRD_PARTY_COPY = 0x8f;

/** Third-party copy descriptor: 2-byte type, 2-byte length, body padded to a multiple of 4. */
function descriptor(type: number, body: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(body.length / 4) * 4);
  body.copy(padded);
  return codedPage(type, padded);
}

/** Supported Commands (0001h): EXTENDED COPY LID1, RECEIVE COPY RESULTS COPY STATUS / OPERATING PARAMETERS. */
function supportedCommands(): Buffer {
  const list = Buffer.from([
    EXTENDED_COPY, 1, SA_EXTENDED_COPY_LID1,
    RECEIVE_COPY_RESULTS, 2, SA_COPY_STATUS, SA_OPERATING_PARAMETERS,
  ]);
  return descriptor(0x0001, Buffer.concat([Buffer.from([list.length]), list]));
}

/** Parameter Data (0004h): maximum CSCD and segment descriptor counts and list length. */
function parameterData(): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(XcopyLimits.maxTargetDescriptors, 4);
  b.writeUInt16BE(XcopyLimits.maxSegmentDescriptors, 6);
  b.writeUInt32BE(XcopyLimits.maxDescriptorListLength, 8);
  return descriptor(0x0004, b);
}

/** Supported Descriptors (0008h): the segment and CSCD descriptor type codes we take. */
function supportedDescriptors(): Buffer {
  return descriptor(0x0008, Buffer.from([IMPLEMENTED_DESCRIPTOR_TYPES.length, ...IMPLEMENTED_DESCRIPTOR_TYPES]));
}

/** General Copy Operations (8001h): concurrent copies, segment length, granularities. */
function generalCopyOperations(): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32BE(XcopyLimits.maxConcurrentCopies, 0); // TOTAL CONCURRENT COPIES
  b.writeUInt32BE(XcopyLimits.maxConcurrentCopies, 4); // MAXIMUM IDENTIFIED CONCURRENT COPIES
  b.writeUInt32BE(XcopyLimits.maxSegmentBytes, 8); // MAXIMUM SEGMENT LENGTH
  b[12] = 9; // DATA SEGMENT GRANULARITY (log2 bytes)
  return descriptor(0x8001, b);
}

/** The body of VPD page 8Fh (after the 4-byte page header). */
export function thirdPartyCopyPage(): Buffer {
  return Buffer.concat([supportedCommands(), parameterData(), supportedDescriptors(), generalCopyOperations()]);
}
