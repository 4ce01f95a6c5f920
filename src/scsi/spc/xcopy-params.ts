import { readLba64 } from '../cdb.js';
import { Sense, type SenseReason } from '../sense-reasons.js';
import { CSCD_IDENTIFICATION, SEGMENT_BLOCK_TO_BLOCK, XcopyLimits } from './xcopy-limits.js';

/** A CSCD identification descriptor (E4h): the designator that names the LU, and its block length. */
export interface CscdDescriptor {
  /** Designator type (SPC-4 VPD 83h: 1 = T10 vendor id, 3 = NAA ...). */
  readonly designatorType: number;
  readonly association: number;
  readonly designator: Buffer;
  /** DISK BLOCK LENGTH of the block device type specific parameters. */
  readonly blockLength: number;
}

/** A block-to-block segment descriptor (02h). */
export interface BlockSegment {
  readonly source: number;
  readonly destination: number;
  /** DC = 1: BLOCKS counts destination blocks; else source blocks. */
  readonly destinationCount: boolean;
  readonly blocks: number;
  readonly sourceLba: number;
  readonly destinationLba: number;
}

/** LIST ID USAGE (SPC-4): 00b hold status, 10b no held data, 11b no list identifier. */
export type ListIdUsage = 0 | 2 | 3;

export interface XcopyParams {
  readonly listId: number;
  readonly listIdUsage: ListIdUsage;
  readonly targets: readonly CscdDescriptor[];
  readonly segments: readonly BlockSegment[];
}

const HEADER = 16;
const CSCD_LENGTH = 32;
/** IPv6 and IP copy service CSCD descriptors are 64 bytes; every other type code 32. */
const LONG_CSCD_TYPES = new Set([0xea, 0xeb]);
const B2B_LENGTH = 0x18;

/**
 * Decodes an EXTENDED COPY (LID1) parameter list. Checks run in the order libiscsi and the
 * standard expect: lengths against the data, then list limits, then counts, then type codes.
 */
export function parseXcopyParams(p: Buffer): XcopyParams | SenseReason {
  if (p.length < HEADER) return Sense.parameterListLengthError;
  const usage = (p[1]! >> 3) & 0x03;
  if (usage === 1) return Sense.invalidFieldInParameterList(1);
  const targetLength = p.readUInt16BE(2);
  const segmentLength = p.readUInt32BE(8);
  const inlineLength = p.readUInt32BE(12);
  if (HEADER + targetLength + segmentLength + inlineLength > p.length) return Sense.parameterListLengthError;
  if (targetLength + segmentLength > XcopyLimits.maxDescriptorListLength) return Sense.parameterListLengthError;
  if (inlineLength !== 0) return Sense.invalidFieldInParameterList(12);

  const targets = parseTargets(p, HEADER, targetLength);
  if (!Array.isArray(targets)) return targets as SenseReason;
  const segments = parseSegments(p, HEADER + targetLength, segmentLength);
  if (!Array.isArray(segments)) return segments as SenseReason;
  return { listId: p[0]!, listIdUsage: usage as ListIdUsage, targets, segments };
}

function parseTargets(p: Buffer, start: number, length: number): CscdDescriptor[] | SenseReason {
  const offsets: number[] = [];
  for (let at = start; at < start + length; at += LONG_CSCD_TYPES.has(p[at]!) ? 64 : CSCD_LENGTH) offsets.push(at);
  if (offsets.length > XcopyLimits.maxTargetDescriptors) return Sense.tooManyTargetDescriptors;
  const out: CscdDescriptor[] = [];
  for (const at of offsets) {
    if (p[at] !== CSCD_IDENTIFICATION) return Sense.unsupportedTargetDescriptorType(at);
    if (at + CSCD_LENGTH > start + length) return Sense.parameterListLengthError;
    // Byte 1: LU ID TYPE (ignored since SPC-4), NUL (obsolete), PERIPHERAL DEVICE TYPE.
    if ((p[at + 1]! & 0x1f) !== 0) return Sense.invalidFieldInParameterList(at + 1);
    const designatorLength = p[at + 7]!;
    if (designatorLength > 20) return Sense.invalidFieldInParameterList(at + 7);
    out.push({
      designatorType: p[at + 5]! & 0x0f,
      association: (p[at + 5]! >> 4) & 0x03,
      designator: Buffer.from(p.subarray(at + 8, at + 8 + designatorLength)),
      blockLength: p.readUIntBE(at + 29, 3),
    });
  }
  return out;
}

function parseSegments(p: Buffer, start: number, length: number): BlockSegment[] | SenseReason {
  const offsets: number[] = [];
  const end = start + length;
  for (let at = start; at < end; at += 4 + p.readUInt16BE(at + 2)) {
    if (at + 4 > end) return Sense.parameterListLengthError;
    offsets.push(at);
  }
  if (offsets.length > XcopyLimits.maxSegmentDescriptors) return Sense.tooManySegmentDescriptors;
  const out: BlockSegment[] = [];
  for (const at of offsets) {
    if (p[at] !== SEGMENT_BLOCK_TO_BLOCK) return Sense.unsupportedSegmentDescriptorType(at);
    if (p.readUInt16BE(at + 2) !== B2B_LENGTH) return Sense.invalidFieldInParameterList(at + 2);
    if (at + 4 + B2B_LENGTH > end) return Sense.parameterListLengthError;
    out.push({
      destinationCount: (p[at + 1]! & 0x02) !== 0,
      source: p.readUInt16BE(at + 4),
      destination: p.readUInt16BE(at + 6),
      blocks: p.readUInt16BE(at + 10),
      sourceLba: readLba64(p, at + 12),
      destinationLba: readLba64(p, at + 20),
    });
  }
  return out;
}
