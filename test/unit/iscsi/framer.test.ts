/**
 * The framer against streams this suite builds itself (test/helpers/wire.ts: its own PDU assembly
 * and bit-by-bit CRC32C), never with the target's encoder or serializer, so that a bug shared by
 * both sides cannot hide.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SgVector } from '../../../src/block/sg.js';
import { PduFramer, type FramerFault, type FramerSettings } from '../../../src/iscsi/framer.js';
import { dataSegmentLength, opcodeOf, type InPdu } from '../../../src/iscsi/pdu.js';
import { framingBhs, hex, wireBytes, type WireDigests, type WirePdu } from '../../helpers/wire.js';

/** Deterministic filler bytes (the framer must not care what the other BHS fields hold). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + i) >>> 0;
    b[i] = x & 0xff;
  }
  return b;
}

function pdu(opcodeByte: number, seed: number, ahs: Buffer | undefined, data: Buffer | undefined): WirePdu {
  return { bhs: framingBhs(opcodeByte, ahs?.length ?? 0, data?.length ?? 0, bytes(48, seed)), ahs, data };
}

/**
 * A multi-PDU stream: with and without AHS (an extended CDB AHS plus a bidi AHS; a padded one),
 * data of lengths 0 mod 4 to 3 mod 4 (padding of 0 to 3 bytes), and PDUs without data.
 */
const STREAM_PDUS: WirePdu[] = [
  pdu(0x01, 1, hex('00 11 01 00', bytes(16, 11).toString('hex'), '00 05 02 00 00 00 10 00'), bytes(13, 12)),
  pdu(0x40, 2, undefined, undefined),
  pdu(0x05, 3, undefined, bytes(8, 13)),
  pdu(0x04, 4, undefined, bytes(1, 14)),
  pdu(0x41, 5, hex('00 03 01 00 c0 c1 00 00'), undefined),
  pdu(0x00, 6, undefined, bytes(7, 15)),
  pdu(0x43, 7, undefined, bytes(2, 16)),
];

function streamOf(pdus: WirePdu[], digests: WireDigests): Buffer {
  return Buffer.concat(pdus.map((p) => wireBytes(p, digests)));
}

/**
 * The framer copies at most 48 bytes at once (a BHS; an AHS here is 28, a digest 4): a middle chunk
 * of up to 53 bytes starts and ends inside every such piece and straddles every pair of neighbours.
 */
const MIDDLE = 53;

function collect(settings: FramerSettings) {
  const pdus: InPdu[] = [];
  const faults: FramerFault[] = [];
  const framer = new PduFramer(settings, { onPdu: (p) => pdus.push(p), onFault: (f) => faults.push(f) });
  return { framer, pdus, faults };
}

/** Empty when the framer gave back exactly `expected`; else what differs (cheap: called hundreds of thousands of times). */
function mismatch(got: InPdu[], faults: FramerFault[], expected: WirePdu[]): string {
  if (faults.length > 0) return `faults ${faults.map((f) => f.kind).join(',')}`;
  if (got.length !== expected.length) return `${got.length} PDUs, expected ${expected.length}`;
  for (let k = 0; k < got.length; k++) {
    const g = got[k]!;
    const e = expected[k]!;
    if (!g.bhs.equals(e.bhs)) return `PDU ${k}: BHS differs`;
    if (!g.ahs.equals(e.ahs ?? Buffer.alloc(0))) return `PDU ${k}: AHS differs`;
    if (!g.data.toBuffer().equals(e.data ?? Buffer.alloc(0))) return `PDU ${k}: data differs`;
  }
  return '';
}

function frameInChunks(stream: Buffer, cuts: number[], settings: FramerSettings): string {
  const { framer, pdus, faults } = collect(settings);
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    framer.push(stream.subarray(from, cut));
    from = cut;
  }
  const wrong = mismatch(pdus, faults, STREAM_PDUS);
  if (wrong) return wrong;
  if (framer.buffered !== 0 || framer.midPdu) return 'bytes left over';
  return framer.pdusFramed === STREAM_PDUS.length ? '' : `pdusFramed ${framer.pdusFramed}`;
}

describe('PduFramer', () => {
  for (const headerDigest of [false, true]) {
    for (const dataDigest of [false, true]) {
      const digests = { headerDigest, dataDigest };
      const settings = { ...digests, maxDataSegmentLength: 8192 };
      const stream = streamOf(STREAM_PDUS, digests);

      it(`frames the stream split in two at every offset (HeaderDigest=${headerDigest} DataDigest=${dataDigest})`, () => {
        const failures: string[] = [];
        for (let cut = 0; cut <= stream.length; cut++) {
          const wrong = frameInChunks(stream, [cut], settings);
          if (wrong) failures.push(`cut at ${cut}: ${wrong}`);
        }
        expect(failures).toEqual([]);
      });

      it(`frames the stream split in three: a middle chunk of every length up to ${MIDDLE} at every offset (HeaderDigest=${headerDigest} DataDigest=${dataDigest})`, () => {
        const failures: string[] = [];
        for (let first = 0; first <= stream.length; first++) {
          for (let second = first; second <= Math.min(stream.length, first + MIDDLE); second++) {
            const wrong = frameInChunks(stream, [first, second], settings);
            if (wrong) failures.push(`cuts at ${first}, ${second}: ${wrong}`);
          }
        }
        expect(failures.slice(0, 10)).toEqual([]);
      });

      it(`frames the stream fed one byte at a time (HeaderDigest=${headerDigest} DataDigest=${dataDigest})`, () => {
        expect(frameInChunks(stream, Array.from({ length: stream.length }, (_, k) => k), settings)).toBe('');
      });
    }
  }

  it('frames any chunking of a stream of random PDUs (property)', () => {
    const digests = { headerDigest: true, dataDigest: true };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (specs, sizes) => {
          const pdus = specs.map(([d, ahsWords], k) => pdu(k, 100 + k, ahsWords > 0 ? bytes(4 * ahsWords, k) : undefined, d.length > 0 ? Buffer.from(d) : undefined));
          const stream = streamOf(pdus, digests);
          const { framer, pdus: got, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
          let pos = 0;
          for (let i = 0; pos < stream.length; i++) {
            const n = sizes[i % sizes.length]!;
            framer.push(stream.subarray(pos, pos + n));
            pos += n;
          }
          expect(mismatch(got, faults, pdus)).toBe('');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hands out data segments as views of the received chunk, not copies', () => {
    const stream = wireBytes(pdu(0x00, 1, undefined, Buffer.alloc(1000, 1)), { headerDigest: false, dataDigest: false });
    const { framer, pdus } = collect({ headerDigest: false, dataDigest: false, maxDataSegmentLength: 8192 });
    framer.push(stream);
    const seg = pdus[0]!.data.segments[0]!;
    expect(seg.buffer).toBe(stream.buffer);
    expect(seg.byteOffset).toBe(stream.byteOffset + 48);
  });

  it('detects a corrupted header digest and stops framing', () => {
    const digests = { headerDigest: true, dataDigest: false };
    const stream = streamOf([pdu(0x00, 1, undefined, Buffer.from('x')), pdu(0x00, 2, undefined, Buffer.from('y'))], digests);
    stream[10] ^= 0x01; // inside the first BHS
    const { framer, pdus, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
    framer.push(stream);
    expect(pdus).toHaveLength(0);
    expect(faults.map((f) => f.kind)).toEqual(['headerDigest']);
  });

  it('a header digest covers the AHS too', () => {
    const digests = { headerDigest: true, dataDigest: false };
    const stream = streamOf([pdu(0x01, 1, hex('00 03 01 00 c0 c1 00 00'), undefined)], digests);
    stream[48 + 5] ^= 0x01; // inside the AHS
    const { framer, pdus, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
    framer.push(stream);
    expect(pdus).toHaveLength(0);
    expect(faults.map((f) => f.kind)).toEqual(['headerDigest']);
  });

  it('drops a PDU with a bad data digest and goes on with the next one', () => {
    const digests = { headerDigest: false, dataDigest: true };
    const stream = streamOf([pdu(0x00, 1, undefined, Buffer.from('first')), pdu(0x00, 2, undefined, Buffer.from('second'))], digests);
    stream[48] ^= 0xff; // first data byte
    const { framer, pdus, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
    framer.push(stream);
    expect(faults.map((f) => f.kind)).toEqual(['dataDigest']);
    expect(pdus.map((p) => p.data.toBuffer().toString())).toEqual(['second']);
  });

  it('a data digest covers the padding too', () => {
    const digests = { headerDigest: false, dataDigest: true };
    const stream = streamOf([pdu(0x00, 1, undefined, Buffer.from('first')), pdu(0x00, 2, undefined, Buffer.from('second'))], digests);
    stream[48 + 5] ^= 0x01; // the first pad byte after "first"
    const { framer, pdus, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
    framer.push(stream);
    expect(faults.map((f) => f.kind)).toEqual(['dataDigest']);
    expect(pdus.map((p) => p.data.toBuffer().toString())).toEqual(['second']);
  });

  it('refuses a data segment longer than negotiated before buffering it', () => {
    const bhs = framingBhs(0x00, 0, 1 << 20, bytes(48, 3));
    const { framer, pdus, faults } = collect({ headerDigest: false, dataDigest: false, maxDataSegmentLength: 8192 });
    framer.push(bhs);
    expect(pdus).toHaveLength(0);
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ kind: 'dataSegmentTooLong', length: 1 << 20, max: 8192 });
    framer.push(Buffer.alloc(100));
    expect(framer.buffered).toBe(0);
  });

  it('round-trips the BHS fields it was given', () => {
    const p = pdu(0x20, 9, undefined, Buffer.from('zz'));
    p.bhs.writeUInt32BE(0x12345678, 16);
    const stream = wireBytes(p, { headerDigest: false, dataDigest: false });
    const { framer, pdus } = collect({ headerDigest: false, dataDigest: false, maxDataSegmentLength: 8192 });
    framer.push(stream);
    const got = pdus[0]!;
    expect(opcodeOf(got.bhs)).toBe(0x20);
    expect(dataSegmentLength(got.bhs)).toBe(2);
    expect(got.bhs.readUInt32BE(16)).toBe(0x12345678);
    expect(got.data).toBeInstanceOf(SgVector);
  });
});
