/**
 * What the copy manager accepts, reported by RECEIVE COPY RESULTS (OPERATING PARAMETERS) and
 * VPD 8Fh and enforced by the parameter list parser. Small on purpose: ESXi sends two CSCD
 * descriptors and one segment per command, sg_xcopy the same.
 */
export const XcopyLimits = {
  maxTargetDescriptors: 4,
  maxSegmentDescriptors: 16,
  /** Bytes of target + segment descriptor lists together. */
  maxDescriptorListLength: 1024,
  /** Bytes one block-to-block segment may move. */
  maxSegmentBytes: 32 * 1024 * 1024,
  /** PARAMETER LIST LENGTH beyond this is refused before any data moves. */
  maxParameterListLength: 64 * 1024,
  /** Bytes read then written per step, so a copy holds little memory and notices aborts. */
  chunkBytes: 1024 * 1024,
  /** Copies a nexus may have at once (list identifiers held). */
  maxConcurrentCopies: 16,
} as const;

export const SEGMENT_BLOCK_TO_BLOCK = 0x02;
export const CSCD_IDENTIFICATION = 0xe4;
/** Descriptor type codes we implement, in the order OPERATING PARAMETERS lists them. */
export const IMPLEMENTED_DESCRIPTOR_TYPES: readonly number[] = [SEGMENT_BLOCK_TO_BLOCK, CSCD_IDENTIFICATION];

export const EXTENDED_COPY = 0x83;
export const RECEIVE_COPY_RESULTS = 0x84;
export const SA_EXTENDED_COPY_LID1 = 0x00;
export const SA_COPY_STATUS = 0x00;
export const SA_OPERATING_PARAMETERS = 0x03;
