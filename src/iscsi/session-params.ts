/**
 * What the target is willing to negotiate, and the operational parameters a
 * login ends with (RFC 7143 §13).
 */

export type DigestName = 'CRC32C' | 'None';

export interface TargetNegotiationConfig {
  /** What the target can receive per PDU; declared to the initiator. */
  readonly maxRecvDataSegmentLength: number;
  /** Upper bound; the initiator's offer is min'ed with it. */
  readonly maxBurstLength: number;
  readonly firstBurstLength: number;
  readonly maxOutstandingR2T: number;
  /** Whether the target allows immediate data (AND function). */
  readonly immediateData: boolean;
  /** Whether the target wants an R2T before any data (OR function). */
  readonly initialR2T: boolean;
  /** Digests the target accepts, in the target's order of preference. */
  readonly headerDigests: readonly DigestName[];
  readonly dataDigests: readonly DigestName[];
  readonly defaultTime2Wait: number;
  readonly defaultTime2Retain: number;
}

export const defaultTargetNegotiationConfig: TargetNegotiationConfig = Object.freeze({
  maxRecvDataSegmentLength: 262144,
  maxBurstLength: 1048576,
  firstBurstLength: 262144,
  // open-iscsi and libiscsi insist on 1; more needs the R2T engine to track several per task.
  maxOutstandingR2T: 1,
  immediateData: true,
  initialR2T: false,
  headerDigests: Object.freeze(['None', 'CRC32C'] as DigestName[]),
  dataDigests: Object.freeze(['None', 'CRC32C'] as DigestName[]),
  defaultTime2Wait: 2,
  defaultTime2Retain: 20,
});

export interface SessionParams {
  readonly headerDigest: boolean;
  readonly dataDigest: boolean;
  /** Largest data segment the target accepts (what it declared; 8192 if it never did). */
  readonly maxRecvDataSegmentLength: number;
  /** Largest data segment the target may send: the initiator's MaxRecvDataSegmentLength. */
  readonly maxXmitDataSegmentLength: number;
  readonly maxBurstLength: number;
  /** Never above maxBurstLength. */
  readonly firstBurstLength: number;
  readonly initialR2T: boolean;
  readonly immediateData: boolean;
  readonly maxOutstandingR2T: number;
  readonly maxConnections: number;
  readonly defaultTime2Wait: number;
  readonly defaultTime2Retain: number;
  readonly dataPduInOrder: boolean;
  readonly dataSequenceInOrder: boolean;
  readonly errorRecoveryLevel: number;
}

/** The values both sides assume for a key nobody negotiated (RFC 7143 §13). */
export const rfcDefaultSessionParams: SessionParams = Object.freeze({
  headerDigest: false,
  dataDigest: false,
  maxRecvDataSegmentLength: 8192,
  maxXmitDataSegmentLength: 8192,
  maxBurstLength: 262144,
  firstBurstLength: 65536,
  initialR2T: true,
  immediateData: true,
  maxOutstandingR2T: 1,
  maxConnections: 1,
  defaultTime2Wait: 2,
  defaultTime2Retain: 20,
  dataPduInOrder: true,
  dataSequenceInOrder: true,
  errorRecoveryLevel: 0,
});

/** RFC 7143 bounds shared by the key table and config validation. */
export const DATA_LENGTH_MIN = 512;
export const DATA_LENGTH_MAX = 16777215;
export const TIME2_MAX = 3600;
export const R2T_MAX = 65535;

/** Throws RangeError naming the first field of `config` that no negotiation could honour. */
export function validateTargetNegotiationConfig(config: TargetNegotiationConfig): void {
  const checkRange = (field: keyof TargetNegotiationConfig, value: number, min: number, max: number): void => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${field} must be an integer in ${min}..${max}, got ${value}`);
    }
  };
  checkRange('maxRecvDataSegmentLength', config.maxRecvDataSegmentLength, DATA_LENGTH_MIN, DATA_LENGTH_MAX);
  checkRange('maxBurstLength', config.maxBurstLength, DATA_LENGTH_MIN, DATA_LENGTH_MAX);
  checkRange('firstBurstLength', config.firstBurstLength, DATA_LENGTH_MIN, config.maxBurstLength);
  checkRange('maxOutstandingR2T', config.maxOutstandingR2T, 1, R2T_MAX);
  checkRange('defaultTime2Wait', config.defaultTime2Wait, 0, TIME2_MAX);
  checkRange('defaultTime2Retain', config.defaultTime2Retain, 0, TIME2_MAX);
  for (const field of ['headerDigests', 'dataDigests'] as const) {
    const list = config[field];
    if (list.length === 0 || list.some((d) => d !== 'None' && d !== 'CRC32C')) {
      throw new RangeError(`${field} must list CRC32C and/or None`);
    }
  }
}
