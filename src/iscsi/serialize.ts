import type { SgVector } from '../block/sg.js';
import { crc32cOf, digestBytes, padFor } from './digest.js';

export interface DigestSettings {
  headerDigest: boolean;
  dataDigest: boolean;
}

/**
 * The wire pieces of one outgoing PDU, in order, for a corked socket write:
 * BHS, header digest, data views, padding, data digest. The data is never copied.
 */
export function pduPieces(bhs: Buffer, data: SgVector | Buffer | undefined, digests: DigestSettings): Buffer[] {
  const pieces: Buffer[] = [bhs];
  if (digests.headerDigest) pieces.push(digestBytes(crc32cOf([bhs])));
  const segs = data === undefined ? [] : Buffer.isBuffer(data) ? [data] : data.segments;
  let len = 0;
  for (const s of segs) {
    pieces.push(s);
    len += s.length;
  }
  if (len > 0) {
    const pad = padFor(len);
    if (pad.length > 0) pieces.push(pad);
    if (digests.dataDigest) pieces.push(digestBytes(crc32cOf(pad.length > 0 ? [...segs, pad] : segs)));
  }
  return pieces;
}
