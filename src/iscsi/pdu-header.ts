/** The fields every PDU has in the same place (RFC 7143 §11.2), and a received PDU. */
import type { SgVector } from '../block/sg.js';

/** A received PDU: views into the socket's chunks (the BHS and AHS are small copies when they straddle chunks). */
export interface InPdu {
  readonly bhs: Buffer;
  readonly ahs: Buffer;
  /** The data segment without padding or digest. */
  readonly data: SgVector;
}

export const opcodeOf = (bhs: Buffer): number => bhs[0]! & 0x3f;
export const isImmediate = (bhs: Buffer): boolean => (bhs[0]! & 0x40) !== 0;
export const isFinal = (bhs: Buffer): boolean => (bhs[1]! & 0x80) !== 0;
export const totalAhsLength = (bhs: Buffer): number => bhs[4]! * 4;
export const dataSegmentLength = (bhs: Buffer): number => (bhs[5]! << 16) | (bhs[6]! << 8) | bhs[7]!;
export const ittOf = (bhs: Buffer): number => bhs.readUInt32BE(16);
