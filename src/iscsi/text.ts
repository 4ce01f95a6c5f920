/**
 * iSCSI text data: the "key=value\0key=value\0" payload of Login and Text
 * PDUs (RFC 7143 §6.1). Parsing, encoding, reassembly across PDUs sent with
 * the C (continue) bit, and splitting a long response into PDU-sized chunks.
 * Text is only exchanged during login and discovery, never on the data path.
 */

export type TextPair = [key: string, value: string];

/** RFC 7143 §6.1: a key name is at most 63 bytes. */
export const MAX_KEY_BYTES = 63;
/** Bound on one value; generous (RFC simple values are <= 255) so CHAP/SRP values fit. */
export const MAX_VALUE_BYTES = 8192;
/** Bound on one text negotiation spread over several PDUs with the C bit. */
export const MAX_TEXT_BYTES = 64 * 1024;

const NUL = 0x00;
const EQUALS = 0x3d;
/** Letters, digits and . - + @ _ (RFC 7143 §6.1), plus '#' for IANA-registered "X#" keys. */
const KEY_NAME = /^[A-Za-z0-9.\-+@_#]+$/;

export type TextErrorCode =
  | 'MISSING_EQUALS'
  | 'BAD_KEY'
  | 'KEY_TOO_LONG'
  | 'VALUE_TOO_LONG'
  | 'NOT_UTF8'
  | 'TOO_LARGE';

export interface TextError {
  readonly code: TextErrorCode;
  /** Byte offset of the offending item in the (reassembled) text. */
  readonly offset: number;
  readonly message: string;
}

export interface TextParseResult {
  /** Well-formed pairs in wire order (duplicates included). */
  readonly pairs: TextPair[];
  /** Malformed items; they are left out of `pairs`. */
  readonly errors: TextError[];
  /** Keys that occur more than once, each listed once. */
  readonly duplicates: string[];
}

export interface TextParseOptions {
  /** Default limit on a value's bytes (MAX_VALUE_BYTES). */
  readonly maxValueBytes?: number;
  /** Per-key overrides of the value limit. */
  readonly valueLimits?: Readonly<Record<string, number>>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parse one complete text payload. Every pair should end with NUL; a missing
 * NUL after the last pair is tolerated. Empty items (stray NULs) are skipped.
 */
export function parseTextData(data: Buffer, options: TextParseOptions = {}): TextParseResult {
  const pairs: TextPair[] = [];
  const errors: TextError[] = [];
  parseItems(data, 0, options, pairs, errors);
  return { pairs, errors, duplicates: findDuplicates(pairs) };
}

function parseItems(
  data: Buffer,
  baseOffset: number,
  options: TextParseOptions,
  pairs: TextPair[],
  errors: TextError[],
): void {
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(NUL, start);
    if (end === -1) end = data.length;
    if (end > start) {
      const item = parseItem(data.subarray(start, end), baseOffset + start, options);
      if ('code' in item) errors.push(item);
      else pairs.push(item.pair);
    }
    start = end + 1;
  }
}

function parseItem(
  item: Buffer,
  offset: number,
  options: TextParseOptions,
): { pair: TextPair } | TextError {
  const eq = item.indexOf(EQUALS);
  if (eq === -1) return textError('MISSING_EQUALS', offset, 'text item has no "="');
  if (eq > MAX_KEY_BYTES) return textError('KEY_TOO_LONG', offset, `key longer than ${MAX_KEY_BYTES} bytes`);
  // latin1 keeps one char per byte, so non-ASCII bytes fail the key-name pattern.
  const key = item.toString('latin1', 0, eq);
  if (!KEY_NAME.test(key)) return textError('BAD_KEY', offset, `invalid key name "${key}"`);
  const limit = options.valueLimits?.[key] ?? options.maxValueBytes ?? MAX_VALUE_BYTES;
  const valueBytes = item.subarray(eq + 1);
  if (valueBytes.length > limit) {
    return textError('VALUE_TOO_LONG', offset, `value of ${key} longer than ${limit} bytes`);
  }
  let value: string;
  try {
    value = utf8.decode(valueBytes);
  } catch {
    return textError('NOT_UTF8', offset, `value of ${key} is not valid UTF-8`);
  }
  return { pair: [key, value] };
}

function textError(code: TextErrorCode, offset: number, message: string): TextError {
  return { code, offset, message };
}

function findDuplicates(pairs: readonly TextPair[]): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const [key] of pairs) {
    if (seen.has(key)) duplicates.add(key);
    else seen.add(key);
  }
  return [...duplicates];
}

/** Encode pairs as "key=value\0" each. Throws TypeError on a key or value that would corrupt the framing. */
export function encodeTextPairs(pairs: readonly (readonly [string, string])[]): Buffer {
  let text = '';
  for (const [key, value] of pairs) {
    if (key.length === 0 || key.includes('=') || key.includes('\0')) {
      throw new TypeError(`invalid text key "${key}"`);
    }
    if (value.includes('\0')) throw new TypeError(`value of ${key} contains NUL`);
    text += `${key}=${value}\0`;
  }
  return Buffer.from(text, 'utf8');
}

/**
 * Split a response into chunks of at most `maxSegment` bytes (the initiator's
 * MaxRecvDataSegmentLength). Send every chunk but the last with the C bit set.
 * A pair may straddle two chunks (RFC 7143 allows it). Chunks are views of
 * `data`, not copies. An empty response is one empty chunk.
 */
export function splitTextResponse(data: Buffer, maxSegment: number): Buffer[] {
  if (!Number.isInteger(maxSegment) || maxSegment < 1) {
    throw new RangeError(`maxSegment must be a positive integer, got ${maxSegment}`);
  }
  if (data.length === 0) return [data];
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += maxSegment) {
    chunks.push(data.subarray(offset, Math.min(offset + maxSegment, data.length)));
  }
  return chunks;
}

export type TextPushResult =
  | { readonly status: 'partial' }
  | { readonly status: 'complete'; readonly result: TextParseResult }
  | { readonly status: 'overflow'; readonly error: TextError };

/**
 * Reassembles text spread over several PDUs (C bit). Complete pairs are parsed
 * as they arrive; only an unfinished trailing pair is kept (copied, so socket
 * buffers are not retained). After 'complete' or 'overflow' the accumulator is
 * empty and ready for the next negotiation round.
 */
export class TextAccumulator {
  private tail: Buffer = Buffer.alloc(0);
  private tailOffset = 0;
  private total = 0;
  private pairs: TextPair[] = [];
  private errors: TextError[] = [];

  constructor(
    private readonly maxBytes: number = MAX_TEXT_BYTES,
    private readonly options: TextParseOptions = {},
  ) {}

  /** Bytes received in the current round so far. */
  get receivedBytes(): number {
    return this.total;
  }

  push(data: Buffer, continueBit: boolean): TextPushResult {
    this.total += data.length;
    if (this.total > this.maxBytes) {
      const error = textError('TOO_LARGE', this.total - data.length, `text exceeds ${this.maxBytes} bytes`);
      this.reset();
      return { status: 'overflow', error };
    }
    // Text is small and bounded, so joining the unfinished tail with the new PDU is fine.
    const buf = this.tail.length > 0 ? Buffer.concat([this.tail, data]) : data;
    if (continueBit) {
      const complete = buf.lastIndexOf(NUL) + 1;
      parseItems(buf.subarray(0, complete), this.tailOffset, this.options, this.pairs, this.errors);
      this.tail = Buffer.from(buf.subarray(complete));
      this.tailOffset += complete;
      return { status: 'partial' };
    }
    parseItems(buf, this.tailOffset, this.options, this.pairs, this.errors);
    const result: TextParseResult = { pairs: this.pairs, errors: this.errors, duplicates: findDuplicates(this.pairs) };
    this.reset();
    return { status: 'complete', result };
  }

  reset(): void {
    this.tail = Buffer.alloc(0);
    this.tailOffset = 0;
    this.total = 0;
    this.pairs = [];
    this.errors = [];
  }
}
