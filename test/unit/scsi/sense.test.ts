import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildDescriptorSense, buildFixedSense, buildSense, parseSense, SenseKey } from '../../../src/scsi/sense.js';
import { Sense } from '../../../src/scsi/sense-reasons.js';

describe('fixed format sense', () => {
  it('lays out key, ASC/ASCQ and additional length in 18 bytes', () => {
    const b = buildFixedSense({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x21, ascq: 0x00 });
    expect([...b]).toEqual([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x21, 0x00, 0, 0, 0, 0]);
  });

  it('sets VALID and the 4-byte INFORMATION field when the value fits', () => {
    const b = buildFixedSense({ key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0, information: 0x12345678 });
    expect(b[0]).toBe(0xf0);
    expect(b.readUInt32BE(3)).toBe(0x12345678);
  });

  it('leaves VALID clear when the information does not fit in 32 bits', () => {
    const b = buildFixedSense({ key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0, information: 2 ** 32 });
    expect(b[0]).toBe(0x70);
    expect(b.readUInt32BE(3)).toBe(0);
  });

  it('encodes a CDB field pointer with bit pointer (SKSV, C/D, BPV)', () => {
    const b = buildFixedSense(Sense.invalidFieldInCdb(1, 7));
    expect([...b.subarray(15, 18)]).toEqual([0x80 | 0x40 | 0x08 | 7, 0x00, 0x01]);
  });

  it('encodes a byte-only field pointer without BPV', () => {
    const b = buildFixedSense(Sense.invalidFieldInCdb(6));
    expect([...b.subarray(15, 18)]).toEqual([0xc0, 0x00, 0x06]);
  });

  it('has no sense-key-specific data without a field pointer', () => {
    expect(buildFixedSense(Sense.invalidFieldInCdb())[15]).toBe(0);
  });
});

describe('descriptor format sense', () => {
  it('is an 8-byte header when there is nothing more to say', () => {
    const b = buildDescriptorSense({ key: SenseKey.UNIT_ATTENTION, asc: 0x29, ascq: 0x00 });
    expect([...b]).toEqual([0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0]);
  });

  it('carries a 64-bit information descriptor then a sense-key-specific descriptor', () => {
    const b = buildDescriptorSense({
      key: SenseKey.ILLEGAL_REQUEST,
      asc: 0x24,
      ascq: 0,
      information: 2 ** 40 + 5,
      fieldPointer: { cd: true, byte: 2, bit: 5 },
    });
    expect(b.length).toBe(8 + 12 + 8);
    expect(b[7]).toBe(20);
    expect([...b.subarray(8, 12)]).toEqual([0x00, 0x0a, 0x80, 0x00]);
    expect(b.readBigUInt64BE(12)).toBe(BigInt(2 ** 40 + 5));
    expect([...b.subarray(20, 28)]).toEqual([0x02, 0x06, 0, 0, 0xcd, 0x00, 0x02, 0]);
  });

  it('is chosen by buildSense for the descriptor format only', () => {
    expect(buildSense(Sense.lbaOutOfRange, 'descriptor')[0]).toBe(0x72);
    expect(buildSense(Sense.lbaOutOfRange, 'fixed')[0]).toBe(0x70);
  });
});

describe('parseSense', () => {
  it('reads back what either builder wrote', () => {
    const arb = fc.record({
      key: fc.integer({ min: 0, max: 15 }),
      asc: fc.integer({ min: 0, max: 255 }),
      ascq: fc.integer({ min: 0, max: 255 }),
      information: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
      fieldPointer: fc.option(
        fc.record({ cd: fc.boolean(), byte: fc.integer({ min: 0, max: 0xffff }), bit: fc.integer({ min: 0, max: 7 }) }),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(arb, fc.constantFrom('fixed' as const, 'descriptor' as const), (s, format) => {
        const clean = Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
        expect(parseSense(buildSense(s, format))).toEqual(clean);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects what is not sense data', () => {
    expect(parseSense(Buffer.alloc(18))).toBeUndefined();
    expect(parseSense(Buffer.alloc(4, 0x70))).toBeUndefined();
  });
});
