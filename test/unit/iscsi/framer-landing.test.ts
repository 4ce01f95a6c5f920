/**
 * Payloads landing in memory of their own (framer.ts readTarget / FramerSink.landing): what the
 * receive buffers already hold is copied there, the rest is read in place, the bytes after it go
 * back to the receive buffers, digests still cover the payload, and the landing is let go of
 * exactly once (also when framing stops half way). Streams come from test/helpers/wire.ts.
 */
import { describe, expect, it } from 'vitest';
import { PduFramer, type FramerFault, type PayloadLanding } from '../../../src/iscsi/framer.js';
import type { InPdu } from '../../../src/iscsi/pdu.js';
import { framingBhs, wireBytes, type WireDigests, type WirePdu } from '../../helpers/wire.js';

const PAYLOAD = 40 * 1024 + 2; // padded on the wire; above the 16 KiB landing threshold
const SEGMENTS = [16 * 1024, 8 * 1024, PAYLOAD - 24 * 1024]; // like pages of a landing, of unequal size

function payload(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const DATA_OUT: WirePdu = { bhs: framingBhs(0x05, 0, PAYLOAD, Buffer.alloc(48, 7)), data: payload(PAYLOAD, 1) };
const SMALL_DATA_OUT: WirePdu = { bhs: framingBhs(0x05, 0, 100, Buffer.alloc(48, 8)), data: payload(100, 2) };
const NOP_OUT: WirePdu = { bhs: framingBhs(0x00, 0, 5, Buffer.alloc(48, 9)), data: payload(5, 3) };
const TEXT: WirePdu = { bhs: framingBhs(0x04, 0, PAYLOAD, Buffer.alloc(48, 10)), data: payload(PAYLOAD, 4) };

interface Rig {
  framer: PduFramer;
  pdus: InPdu[];
  faults: FramerFault[];
  landings: { length: number; segments: Buffer[]; done: number }[];
}

function rig(digests: WireDigests, offer = true): Rig {
  const pdus: InPdu[] = [];
  const faults: FramerFault[] = [];
  const landings: Rig['landings'] = [];
  const framer = new PduFramer(
    { ...digests, maxDataSegmentLength: 1 << 20 },
    {
      onPdu: (p) => pdus.push(p),
      onFault: (f) => faults.push(f),
      landing: (_bhs, length): PayloadLanding | undefined => {
        if (!offer) return undefined;
        const l = { length, segments: (length === PAYLOAD ? SEGMENTS : [length]).map((n) => Buffer.alloc(n)), done: 0 };
        landings.push(l);
        return { segments: l.segments, done: () => l.done++ };
      },
    },
  );
  return { framer, pdus, faults, landings };
}

/**
 * Feed `stream` the way owned-reads.ts does: into the framer's read target when it names one
 * (at most `step` bytes per read, written in place), else as a fresh receive chunk of at most `step`.
 */
function feed(r: Rig, stream: Buffer, step: number): { inPlace: number } {
  let inPlace = 0;
  for (let at = 0; at < stream.length; ) {
    const target = r.framer.readTarget();
    const n = Math.min(step, stream.length - at, target?.length ?? Infinity);
    if (target) {
      stream.copy(target, 0, at, at + n);
      r.framer.push(target.subarray(0, n));
      inPlace += n;
    } else {
      r.framer.push(Buffer.from(stream.subarray(at, at + n)));
    }
    at += n;
  }
  return { inPlace };
}

describe('PduFramer landing', () => {
  for (const dataDigest of [false, true]) {
    const digests = { headerDigest: true, dataDigest };
    const stream = Buffer.concat([NOP_OUT, DATA_OUT, SMALL_DATA_OUT, TEXT, DATA_OUT].map((p) => wireBytes(p, digests)));

    for (const step of [1, 7, 4096, 65536, stream.length]) {
      it(`lands large Data-Out payloads and frames everything else as before (reads of ${step} B, DataDigest=${dataDigest})`, () => {
        const r = rig(digests);
        const { inPlace } = feed(r, stream, step);
        expect(r.faults).toEqual([]);
        expect(r.pdus.map((p) => p.bhs[0]! & 0x3f)).toEqual([0x00, 0x05, 0x05, 0x04, 0x05]);
        const sent = [NOP_OUT, DATA_OUT, SMALL_DATA_OUT, TEXT, DATA_OUT];
        expect(r.pdus.map((p, k) => p.data.toBuffer().equals(sent[k]!.data!))).toEqual(sent.map(() => true));
        // The Data-Out payloads landed (the small one too: copied there), not the Text request; each let go of once.
        expect(r.landings.map((l) => [l.length, l.done])).toEqual([
          [PAYLOAD, 1],
          [100, 1],
          [PAYLOAD, 1],
        ]);
        for (const [k, pdu] of [r.pdus[1]!, r.pdus[2]!, r.pdus[4]!].entries()) {
          const landing = r.landings[k]!;
          expect(pdu.data.segments).toEqual(landing.segments);
          expect(Buffer.concat(landing.segments).equals(sent[k === 1 ? 2 : 1]!.data!)).toBe(true);
        }
        // Reads that leave the payload's rest to come were made into the landing itself.
        if (step < PAYLOAD) expect(inPlace).toBeGreaterThan(0);
        expect(r.framer.buffered).toBe(0);
        expect(r.framer.midPdu).toBe(false);
        // The last PDU landed: the next read is for a header (48 bytes and its digest) alone.
        expect(r.framer.readTarget()?.length).toBe(48 + 4);
      });
    }

    it(`a read target never covers bytes past the payload (DataDigest=${dataDigest})`, () => {
      const r = rig(digests);
      const one = wireBytes(DATA_OUT, digests);
      r.framer.push(Buffer.from(one.subarray(0, 48 + 4 + 100))); // BHS, header digest, 100 payload bytes
      const targets: number[] = [];
      let at = 48 + 4 + 100;
      for (let t = r.framer.readTarget(); t && targets.length < SEGMENTS.length; t = r.framer.readTarget()) {
        targets.push(t.length);
        one.copy(t, 0, at, at + t.length);
        r.framer.push(t);
        at += t.length;
      }
      // The first segment's rest, then each further segment whole: together the payload's rest.
      expect(targets).toEqual([SEGMENTS[0]! - 100, SEGMENTS[1]!, SEGMENTS[2]!]);
      expect(r.pdus).toHaveLength(0); // padding (and digest) still to come
      // Then a read of the trailer (padding, digest) and the next header, nothing more.
      expect(r.framer.readTarget()?.length).toBe(one.length - at + 48 + 4);
      r.framer.push(Buffer.from(one.subarray(at)));
      expect(r.pdus).toHaveLength(1);
      expect(r.pdus[0]!.data.toBuffer().equals(DATA_OUT.data!)).toBe(true);
    });
  }

  for (const digests of [
    { headerDigest: false, dataDigest: false },
    { headerDigest: true, dataDigest: true },
  ]) {
    it(`after a landed payload the socket reads the trailer and the next header alone, so the next payload lands without a copy (digests ${digests.dataDigest})`, () => {
      const r = rig(digests);
      let landedInPlace = 0;
      // The initiator sends one PDU at a time; a read takes what has been sent, up to its buffer.
      for (const pdu of [DATA_OUT, DATA_OUT, DATA_OUT]) {
        const sent = wireBytes(pdu, digests);
        for (let at = 0; at < sent.length; ) {
          const target = r.framer.readTarget();
          const n = Math.min(sent.length - at, target?.length ?? 128 * 1024);
          if (target) {
            sent.copy(target, 0, at, at + n);
            r.framer.push(target.subarray(0, n));
            if (target.length > 64) landedInPlace += n;
          } else {
            r.framer.push(Buffer.from(sent.subarray(at, at + n)));
          }
          at += n;
        }
      }
      expect(r.faults).toEqual([]);
      expect(r.pdus).toHaveLength(3);
      for (const p of r.pdus) expect(p.data.toBuffer().equals(DATA_OUT.data!)).toBe(true);
      // The first payload came with its header in one receive buffer and was copied; the others were read in place.
      expect(landedInPlace).toBe(2 * PAYLOAD);
      expect(r.landings.map((l) => l.done)).toEqual([1, 1, 1]);
    });
  }

  for (const digests of [
    { headerDigest: false, dataDigest: false },
    { headerDigest: true, dataDigest: true },
  ]) {
    it(`a small payload is copied into its landing: never read in place, and the next header is not read alone (digests ${digests.dataDigest})`, () => {
      const r = rig(digests);
      const sent = [SMALL_DATA_OUT, SMALL_DATA_OUT, NOP_OUT];
      for (const pdu of sent) {
        // Each PDU arrives in two reads: its header and part of its payload, then the rest.
        const bytes = wireBytes(pdu, digests);
        for (const part of [bytes.subarray(0, 60), bytes.subarray(60)]) {
          expect(r.framer.readTarget()).toBeUndefined();
          r.framer.push(Buffer.from(part));
        }
      }
      expect(r.framer.readTarget()).toBeUndefined();
      expect(r.faults).toEqual([]);
      expect(r.pdus.map((p, k) => p.data.toBuffer().equals(sent[k]!.data!))).toEqual([true, true, true]);
      expect(r.landings.map((l) => [l.length, l.done])).toEqual([
        [100, 1],
        [100, 1],
      ]);
      expect(r.pdus[0]!.data.segments).toEqual(r.landings[0]!.segments);
    });
  }

  it('a data digest error drops the landed PDU (fault, no PDU) and lets go of the landing', () => {
    const digests = { headerDigest: false, dataDigest: true };
    const bad = wireBytes(DATA_OUT, digests);
    bad.writeUInt8(bad[bad.length - 1]! ^ 0xff, bad.length - 1);
    const r = rig(digests);
    feed(r, Buffer.concat([bad, wireBytes(NOP_OUT, digests)]), 4096);
    expect(r.faults.map((f) => f.kind)).toEqual(['dataDigest']);
    expect(r.pdus.map((p) => p.bhs[0]! & 0x3f)).toEqual([0x00]);
    expect(r.landings.map((l) => l.done)).toEqual([1]);
  });

  it('stopping half way through a landing names no read target any more, but holds the landing until the socket is gone', () => {
    const digests = { headerDigest: false, dataDigest: false };
    const r = rig(digests);
    const one = wireBytes(DATA_OUT, digests);
    r.framer.push(Buffer.from(one.subarray(0, 48 + 1000)));
    const target = r.framer.readTarget();
    expect(target).toBeDefined();
    r.framer.stop();
    expect(r.framer.readTarget()).toBeUndefined();
    // The socket may still complete a read into the buffer it was given last.
    expect(r.landings.map((l) => l.done)).toEqual([0]);
    r.framer.push(target!.subarray(0, 10)); // dropped: framing has stopped
    expect(r.pdus).toHaveLength(0);
    r.framer.dispose();
    r.framer.dispose();
    expect(r.landings.map((l) => l.done)).toEqual([1]);
  });

  it('without a landing from the sink, large payloads are views of the receive chunks as before', () => {
    const digests = { headerDigest: false, dataDigest: false };
    const r = rig(digests, false);
    const one = Buffer.from(wireBytes(DATA_OUT, digests));
    r.framer.push(one);
    expect(r.framer.readTarget()).toBeUndefined();
    expect(r.pdus[0]!.data.segments[0]!.buffer).toBe(one.buffer);
  });
});
