/**
 * Encoding of CHAP key values (RFC 7143 §6.1 binary values, §12.1.3 CHAP keys).
 * These run a handful of times per login, never on the data path.
 */

/** RFC 7143 §12.1.3: CHAP_C and CHAP_R are large-binary-values of at most 1024 bytes. */
export const CHAP_MAX_BINARY_LENGTH = 1024;

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const HEX_DIGITS = /^[0-9a-fA-F]+$/;
const BASE64_CHARS = /^[A-Za-z0-9+/]+(={0,2})$/;

/**
 * Decode a binary value written as `0x<hex>` or `0b<base64>`. An odd number of
 * hex digits stands for a leading zero nibble (RFC 7143 §6.1: the byte length of
 * n hex digits is (n + 1) / 2). Lengths are checked before decoding so an
 * oversized value costs nothing.
 */
export function decodeChapBinary(value: string, maxLength = CHAP_MAX_BINARY_LENGTH): Decoded<Buffer> {
  const prefix = value.slice(0, 2);
  const body = value.slice(2);
  if (body.length === 0) return { ok: false, reason: 'empty binary value' };
  if (prefix === '0x' || prefix === '0X') {
    if (body.length > 2 * maxLength) return { ok: false, reason: `longer than ${maxLength} bytes` };
    if (!HEX_DIGITS.test(body)) return { ok: false, reason: 'invalid hex digits' };
    return { ok: true, value: Buffer.from(body.length % 2 === 1 ? `0${body}` : body, 'hex') };
  }
  if (prefix === '0b' || prefix === '0B') {
    if (body.length > 4 * Math.ceil(maxLength / 3)) return { ok: false, reason: `longer than ${maxLength} bytes` };
    const match = BASE64_CHARS.exec(body);
    // Padded text comes in whole quartets; unpadded text can never leave a single char over.
    const malformed = match === null || (match[1] !== '' ? body.length % 4 !== 0 : body.length % 4 === 1);
    if (malformed) return { ok: false, reason: 'invalid base64' };
    const decoded = Buffer.from(body, 'base64');
    if (decoded.length > maxLength) return { ok: false, reason: `longer than ${maxLength} bytes` };
    return { ok: true, value: decoded };
  }
  return { ok: false, reason: 'binary value must start with 0x (hex) or 0b (base64)' };
}

/** Binary values Scatter sends are always hex (every initiator reads it). */
export function encodeChapHex(value: Buffer): string {
  return `0x${value.toString('hex')}`;
}

/** CHAP_I: one octet, written in decimal or as a hex constant. */
export function parseChapIdentifier(value: string): Decoded<number> {
  let n: number;
  if (/^[0-9]{1,3}$/.test(value)) n = Number.parseInt(value, 10);
  else if (/^0[xX][0-9a-fA-F]{1,2}$/.test(value)) n = Number.parseInt(value.slice(2), 16);
  else return { ok: false, reason: 'CHAP_I is not a number' };
  if (n > 255) return { ok: false, reason: 'CHAP_I is larger than 255' };
  return { ok: true, value: n };
}

/** CHAP_A offers: a comma-separated list in the initiator's order of preference. */
export function parseChapAlgorithmList(value: string): number[] {
  const offered: number[] = [];
  for (const item of value.split(',')) {
    // Anything that is not a plain number (e.g. "Reject") simply is not an offer we can take.
    if (/^[0-9]{1,5}$/.test(item)) offered.push(Number.parseInt(item, 10));
  }
  return offered;
}

/** Quote a value from the wire for a log line, bounded so a hostile peer cannot flood the log. */
export function quoteForLog(value: string, max = 64): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}
