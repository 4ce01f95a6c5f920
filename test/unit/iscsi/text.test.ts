import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  encodeTextPairs,
  MAX_TEXT_BYTES,
  parseTextData,
  splitTextResponse,
  TextAccumulator,
  type TextPair,
  type TextParseResult,
} from '../../../src/iscsi/text.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Feed `data` to a fresh accumulator in pieces ending at `cuts`, C bit on all but the last. */
function accumulate(data: Buffer, cuts: number[], acc = new TextAccumulator()): TextParseResult {
  const bounds = [...new Set(cuts)].filter((c) => c > 0 && c < data.length).sort((a, b) => a - b);
  let start = 0;
  for (const cut of bounds) {
    expect(acc.push(data.subarray(start, cut), true)).toEqual({ status: 'partial' });
    start = cut;
  }
  const last = acc.push(data.subarray(start), false);
  if (last.status !== 'complete') throw new Error(`expected complete, got ${last.status}`);
  return last.result;
}

describe('parseTextData', () => {
  it('returns pairs in wire order', () => {
    const r = parseTextData(bytes('HeaderDigest=None\0MaxBurstLength=262144\0InitiatorName=iqn.a:b\0'));
    expect(r.pairs).toEqual([
      ['HeaderDigest', 'None'],
      ['MaxBurstLength', '262144'],
      ['InitiatorName', 'iqn.a:b'],
    ]);
    expect(r.errors).toEqual([]);
    expect(r.duplicates).toEqual([]);
  });

  it('tolerates a missing final NUL and stray empty items', () => {
    const r = parseTextData(bytes('A=1\0\0B=2'));
    expect(r.pairs).toEqual([
      ['A', '1'],
      ['B', '2'],
    ]);
    expect(r.errors).toEqual([]);
  });

  it('keeps empty values and "=" inside values', () => {
    expect(parseTextData(bytes('A=\0B=x=y\0')).pairs).toEqual([
      ['A', ''],
      ['B', 'x=y'],
    ]);
  });

  it('returns nothing for empty data', () => {
    expect(parseTextData(Buffer.alloc(0))).toEqual({ pairs: [], errors: [], duplicates: [] });
  });

  it('reports an item without "=" and keeps the others', () => {
    const r = parseTextData(bytes('A=1\0garbage\0B=2\0'));
    expect(r.pairs).toEqual([
      ['A', '1'],
      ['B', '2'],
    ]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ code: 'MISSING_EQUALS', offset: 4 });
  });

  it.each([
    ['=value', 'BAD_KEY'],
    ['Bad Key=1', 'BAD_KEY'],
    ['Ké=1', 'BAD_KEY'],
    [`${'K'.repeat(64)}=1`, 'KEY_TOO_LONG'],
  ])('rejects the key in %j', (item, code) => {
    const r = parseTextData(bytes(`${item}\0`));
    expect(r.pairs).toEqual([]);
    expect(r.errors.map((e) => e.code)).toEqual([code]);
  });

  it('accepts a 63-byte key and X- / X# key names', () => {
    const long = 'K'.repeat(63);
    const r = parseTextData(bytes(`${long}=1\0X-com.example.a_b+c@d=2\0X#iana=3\0`));
    expect(r.errors).toEqual([]);
    expect(r.pairs.map(([k]) => k)).toEqual([long, 'X-com.example.a_b+c@d', 'X#iana']);
  });

  it('limits values to 8192 bytes unless configured per key', () => {
    const ok = parseTextData(bytes(`A=${'v'.repeat(8192)}\0`));
    expect(ok.errors).toEqual([]);
    expect(ok.pairs[0][1]).toHaveLength(8192);

    const tooLong = parseTextData(bytes(`A=${'v'.repeat(8193)}\0B=1\0`));
    expect(tooLong.errors.map((e) => e.code)).toEqual(['VALUE_TOO_LONG']);
    expect(tooLong.pairs).toEqual([['B', '1']]);

    const small = parseTextData(bytes('A=12345\0B=12345\0'), { maxValueBytes: 4, valueLimits: { B: 5 } });
    expect(small.errors.map((e) => e.code)).toEqual(['VALUE_TOO_LONG']);
    expect(small.pairs).toEqual([['B', '12345']]);
  });

  it('decodes UTF-8 values and rejects invalid UTF-8', () => {
    expect(parseTextData(bytes('InitiatorAlias=höst-ø€😀\0')).pairs).toEqual([['InitiatorAlias', 'höst-ø€😀']]);
    const bad = Buffer.concat([bytes('A='), Buffer.from([0xc3, 0x28]), Buffer.from([0])]);
    const r = parseTextData(bad);
    expect(r.pairs).toEqual([]);
    expect(r.errors.map((e) => e.code)).toEqual(['NOT_UTF8']);
  });

  it('reports each duplicated key once', () => {
    const r = parseTextData(bytes('A=1\0B=2\0A=3\0A=4\0B=5\0C=6\0'));
    expect(r.duplicates.sort()).toEqual(['A', 'B']);
    expect(r.pairs).toHaveLength(6);
  });
});

describe('encodeTextPairs', () => {
  it('terminates every pair with NUL', () => {
    expect(
      encodeTextPairs([
        ['A', '1'],
        ['B', ''],
      ]).toString('latin1'),
    ).toBe('A=1\0B=\0');
    expect(encodeTextPairs([])).toHaveLength(0);
  });

  it('refuses keys or values that would break the framing', () => {
    expect(() => encodeTextPairs([['A=B', '1']])).toThrow(TypeError);
    expect(() => encodeTextPairs([['', '1']])).toThrow(TypeError);
    expect(() => encodeTextPairs([['A', 'x\0y']])).toThrow(TypeError);
  });
});

const keyArb = fc.stringMatching(/^[A-Z][A-Za-z0-9.\-+@_]{0,62}$/);
const valueArb = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0'));
const pairsArb = fc
  .uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, maxLength: 12 })
  .map((pairs) => pairs as TextPair[]);

describe('round trips', () => {
  it('parse(encode(pairs)) === pairs', () => {
    fc.assert(
      fc.property(pairsArb, (pairs) => {
        const r = parseTextData(encodeTextPairs(pairs));
        expect(r.errors).toEqual([]);
        expect(r.pairs).toEqual(pairs);
      }),
      { numRuns: 200 },
    );
  });
});

describe('TextAccumulator', () => {
  const sample = encodeTextPairs([
    ['HeaderDigest', 'None,CRC32C'],
    ['InitiatorAlias', 'hôte'],
    ['MaxRecvDataSegmentLength', '262144'],
    ['X-com.example.Key', 'v'],
  ]);
  const whole = parseTextData(sample);

  it('gives the same pairs for a split at every offset', () => {
    for (let cut = 0; cut <= sample.length; cut++) {
      expect(accumulate(sample, [cut])).toEqual(whole);
    }
  });

  it('gives the same pairs for a split at every offset when the final NUL is missing', () => {
    const unterminated = sample.subarray(0, sample.length - 1);
    const expected = parseTextData(unterminated);
    expect(expected.pairs).toEqual(whole.pairs);
    for (let cut = 0; cut <= unterminated.length; cut++) {
      expect(accumulate(unterminated, [cut])).toEqual(expected);
    }
  });

  it('gives the same result as a one-shot parse for random splits (incl. errors and duplicates)', () => {
    const itemArb = fc.oneof(
      pairsArb.map((pairs) => encodeTextPairs(pairs)),
      fc.constant(bytes('NoEquals\0')),
      fc.constant(bytes('A=dup\0')),
      fc.constant(Buffer.from([0x41, 0x3d, 0xff, 0x00])),
    );
    fc.assert(
      fc.property(fc.array(itemArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (items, rawCuts) => {
        const data = Buffer.concat(items);
        const cuts = rawCuts.map((c) => (data.length === 0 ? 0 : c % data.length));
        expect(accumulate(data, cuts)).toEqual(parseTextData(data));
      }),
      { numRuns: 200 },
    );
  });

  it('detects a key duplicated across PDUs', () => {
    const acc = new TextAccumulator();
    expect(acc.push(bytes('A=1\0B='), true).status).toBe('partial');
    const r = acc.push(bytes('2\0A=3\0'), false);
    expect(r.status).toBe('complete');
    if (r.status === 'complete') {
      expect(r.result.pairs).toEqual([
        ['A', '1'],
        ['B', '2'],
        ['A', '3'],
      ]);
      expect(r.result.duplicates).toEqual(['A']);
    }
  });

  it('reports error offsets relative to the whole text', () => {
    const acc = new TextAccumulator();
    acc.push(bytes('A=1\0Bro'), true);
    const r = acc.push(bytes('ken\0'), false);
    expect(r.status === 'complete' && r.result.errors).toEqual([
      expect.objectContaining({ code: 'MISSING_EQUALS', offset: 4 }),
    ]);
  });

  it('does not keep a reference to the pushed buffer', () => {
    const acc = new TextAccumulator();
    const pdu = bytes('A=1\0B=partial');
    acc.push(pdu, true);
    pdu.fill(0x5a); // the socket buffer gets reused
    const r = acc.push(bytes('-end\0'), false);
    expect(r.status === 'complete' && r.result.pairs).toEqual([
      ['A', '1'],
      ['B', 'partial-end'],
    ]);
  });

  it('refuses more than its bound and starts fresh afterwards', () => {
    const acc = new TextAccumulator(100);
    expect(acc.push(Buffer.alloc(60, 0x41), true).status).toBe('partial');
    const over = acc.push(Buffer.alloc(41, 0x41), true);
    expect(over.status).toBe('overflow');
    if (over.status === 'overflow') expect(over.error.code).toBe('TOO_LARGE');
    expect(acc.receivedBytes).toBe(0);
    const next = acc.push(bytes('A=1\0'), false);
    expect(next.status === 'complete' && next.result.pairs).toEqual([['A', '1']]);
  });

  it('accepts exactly the default bound of 64 KiB and refuses one byte more', () => {
    const item = bytes(`A=${'v'.repeat(MAX_TEXT_BYTES - 3)}\0`);
    expect(item.length).toBe(MAX_TEXT_BYTES);
    const acc = new TextAccumulator(MAX_TEXT_BYTES, { maxValueBytes: MAX_TEXT_BYTES });
    expect(acc.push(item.subarray(0, 1000), true).status).toBe('partial');
    expect(acc.push(item.subarray(1000), false).status).toBe('complete');
    expect(acc.push(Buffer.alloc(MAX_TEXT_BYTES + 1), false).status).toBe('overflow');
  });

  it('resets between rounds', () => {
    const acc = new TextAccumulator();
    acc.push(bytes('A=1\0'), false);
    const r = acc.push(bytes('A=2\0'), false);
    expect(r.status === 'complete' && r.result).toEqual({ pairs: [['A', '2']], errors: [], duplicates: [] });
  });
});

describe('splitTextResponse', () => {
  it('splits a SendTargets answer larger than 32768 into chunks that reassemble', () => {
    const pairs: TextPair[] = [];
    for (let i = 0; i < 600; i++) {
      pairs.push(['TargetName', `iqn.2024-01.org.scatter:disk-${i}`]);
      pairs.push(['TargetAddress', `192.0.2.${i % 250}:3260,1`]);
    }
    const data = encodeTextPairs(pairs);
    expect(data.length).toBeGreaterThan(32768);
    const chunks = splitTextResponse(data, 32768);
    expect(chunks).toHaveLength(Math.ceil(data.length / 32768));
    expect(chunks.slice(0, -1).every((c) => c.length === 32768)).toBe(true);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    // Views, not copies.
    expect(chunks.every((c) => c.buffer === data.buffer)).toBe(true);

    const acc = new TextAccumulator();
    let result: TextParseResult | undefined;
    chunks.forEach((chunk, i) => {
      const r = acc.push(chunk, i < chunks.length - 1);
      if (r.status === 'complete') result = r.result;
    });
    expect(result?.pairs).toEqual(pairs);
  });

  it('keeps chunk sizes within the limit for any size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 700 }), (len, max) => {
        const data = Buffer.alloc(len, 0x61);
        const chunks = splitTextResponse(data, max);
        expect(chunks.every((c) => c.length <= max)).toBe(true);
        expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(len);
        expect(chunks).toHaveLength(Math.max(1, Math.ceil(len / max)));
      }),
      { numRuns: 100 },
    );
  });

  it('returns one empty chunk for an empty response', () => {
    const chunks = splitTextResponse(Buffer.alloc(0), 512);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toHaveLength(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects maxSegment %s', (max) => {
    expect(() => splitTextResponse(Buffer.from('A=1\0'), max)).toThrow(RangeError);
  });
});
