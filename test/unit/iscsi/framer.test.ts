import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SgVector } from '../../../src/block/sg.js';
import { PduFramer, type FramerFault, type FramerSettings } from '../../../src/iscsi/framer.js';
import { pduPieces } from '../../../src/iscsi/serialize.js';
import { encodeNopIn, dataSegmentLength, opcodeOf, type InPdu } from '../../../src/iscsi/pdu.js';
import { Op } from '../../../src/iscsi/opcodes.js';

function nop(itt: number, data: Buffer): Buffer[] {
  return [encodeNopIn({ lun: 0, itt, ttt: 0xffffffff, statSN: 1, expCmdSN: 2, maxCmdSN: 3, dataLength: data.length }), data];
}

function wire(pdus: Buffer[][], digests: { headerDigest: boolean; dataDigest: boolean }): Buffer {
  return Buffer.concat(pdus.flatMap(([bhs, data]) => pduPieces(bhs!, data, digests)));
}

function collect(settings: FramerSettings) {
  const pdus: InPdu[] = [];
  const faults: FramerFault[] = [];
  const framer = new PduFramer(settings, { onPdu: (p) => pdus.push(p), onFault: (f) => faults.push(f) });
  return { framer, pdus, faults };
}

const payloads = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('hello iscsi'), Buffer.alloc(4096, 7), Buffer.from('abcd')];

describe('PduFramer', () => {
  for (const headerDigest of [false, true]) {
    for (const dataDigest of [false, true]) {
      it(`frames PDUs split at every offset (HeaderDigest=${headerDigest} DataDigest=${dataDigest})`, () => {
        const digests = { headerDigest, dataDigest };
        const stream = wire(payloads.map((p, i) => nop(i, p)), digests);
        for (let cut = 0; cut <= stream.length; cut += cut < 200 ? 1 : 97) {
          const { framer, pdus, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
          framer.push(stream.subarray(0, cut));
          framer.push(stream.subarray(cut));
          expect(faults).toEqual([]);
          expect(pdus.map((p) => p.data.toBuffer().toString('hex'))).toEqual(payloads.map((p) => p.toString('hex')));
          expect(pdus.map((p) => p.bhs.readUInt32BE(16))).toEqual(payloads.map((_, i) => i));
          expect(framer.buffered).toBe(0);
        }
      });
    }
  }

  it('frames any chunking of a stream (property)', () => {
    const digests = { headerDigest: true, dataDigest: true };
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (datas, cuts) => {
          const bufs = datas.map((d) => Buffer.from(d));
          const stream = wire(bufs.map((b, i) => nop(i, b)), digests);
          const { framer, pdus, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
          let pos = 0;
          for (let i = 0; pos < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            framer.push(stream.subarray(pos, pos + n));
            pos += n;
          }
          expect(faults).toEqual([]);
          expect(pdus.map((p) => p.data.toBuffer().toString('hex'))).toEqual(bufs.map((b) => b.toString('hex')));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hands out data segments as views of the received chunk, not copies', () => {
    const stream = wire([nop(1, Buffer.alloc(1000, 1))], { headerDigest: false, dataDigest: false });
    const { framer, pdus } = collect({ headerDigest: false, dataDigest: false, maxDataSegmentLength: 8192 });
    framer.push(stream);
    const seg = pdus[0]!.data.segments[0]!;
    expect(seg.buffer).toBe(stream.buffer);
    expect(seg.byteOffset).toBe(stream.byteOffset + 48);
  });

  it('detects a corrupted header digest and stops framing', () => {
    const digests = { headerDigest: true, dataDigest: false };
    const stream = wire([nop(1, Buffer.from('x')), nop(2, Buffer.from('y'))], digests);
    stream[10] ^= 0x01; // inside the first BHS
    const { framer, pdus, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
    framer.push(stream);
    expect(pdus).toHaveLength(0);
    expect(faults.map((f) => f.kind)).toEqual(['headerDigest']);
  });

  it('drops a PDU with a bad data digest and goes on with the next one', () => {
    const digests = { headerDigest: false, dataDigest: true };
    const stream = wire([nop(1, Buffer.from('first')), nop(2, Buffer.from('second'))], digests);
    stream[48] ^= 0xff; // first data byte
    const { framer, pdus, faults } = collect({ ...digests, maxDataSegmentLength: 8192 });
    framer.push(stream);
    expect(faults.map((f) => f.kind)).toEqual(['dataDigest']);
    expect(pdus.map((p) => p.data.toBuffer().toString())).toEqual(['second']);
  });

  it('refuses a data segment longer than negotiated before buffering it', () => {
    const bhs = encodeNopIn({ lun: 0, itt: 1, ttt: 0, statSN: 0, expCmdSN: 0, maxCmdSN: 0, dataLength: 1 << 20 });
    const { framer, pdus, faults } = collect({ headerDigest: false, dataDigest: false, maxDataSegmentLength: 8192 });
    framer.push(bhs);
    expect(pdus).toHaveLength(0);
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ kind: 'dataSegmentTooLong', length: 1 << 20, max: 8192 });
    framer.push(Buffer.alloc(100));
    expect(framer.buffered).toBe(0);
  });

  it('round-trips the BHS fields it was given', () => {
    const stream = wire([nop(0x12345678, Buffer.from('zz'))], { headerDigest: false, dataDigest: false });
    const { framer, pdus } = collect({ headerDigest: false, dataDigest: false, maxDataSegmentLength: 8192 });
    framer.push(stream);
    const p = pdus[0]!;
    expect(opcodeOf(p.bhs)).toBe(Op.NOP_IN);
    expect(dataSegmentLength(p.bhs)).toBe(2);
    expect(p.bhs.readUInt32BE(16)).toBe(0x12345678);
    expect(p.data).toBeInstanceOf(SgVector);
  });
});
