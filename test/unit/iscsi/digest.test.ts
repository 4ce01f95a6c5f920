/**
 * Header and data digests: the CRC32C examples of RFC 3720 Appendix B.4 (carried into RFC 7143)
 * against src/iscsi/digest.ts, against this suite's bit-by-bit reference, and in the byte order the
 * framer and the serializer use on the wire.
 */
import { describe, expect, it } from 'vitest';
import { crc32cOf, digestBytes, readDigest } from '../../../src/iscsi/digest.js';
import { PduFramer, type FramerFault } from '../../../src/iscsi/framer.js';
import type { InPdu } from '../../../src/iscsi/pdu.js';
import { pduPieces } from '../../../src/iscsi/serialize.js';
import { bhsRows, crc32cReference, digestOnWire, hex } from '../../helpers/wire.js';

const incrementing = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const decrementing = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));

/** RFC 3720 B.4: an iSCSI SCSI Read (10) command PDU (a BHS: ITT 0x14, EDTL 1024, CmdSN 0x14, ExpStatSN 0x18). */
const readCommandPdu = bhsRows(
  '01 c0 00 00',
  '00 00 00 00',
  '00 00 00 00',
  '00 00 00 00',
  '14 00 00 00',
  '00 00 04 00',
  '00 00 00 14',
  '00 00 00 18',
  '28 00 00 00',
  '00 00 00 00',
  '02 00 00 00',
  '00 00 00 00',
);

/** [name, input, CRC value, the CRC bytes as RFC 3720 B.4 prints them] */
const VECTORS: [string, Buffer, number, Buffer][] = [
  ['32 bytes of zeroes', Buffer.alloc(32), 0x8a9136aa, hex('aa 36 91 8a')],
  ['32 bytes of ones', Buffer.alloc(32, 0xff), 0x62a8ab43, hex('43 ab a8 62')],
  ['32 bytes of incrementing 00..1f', incrementing, 0x46dd794e, hex('4e 79 dd 46')],
  ['32 bytes of decrementing 1f..00', decrementing, 0x113fdb5c, hex('5c db 3f 11')],
  ['an iSCSI SCSI Read (10) command PDU', readCommandPdu, 0xd9963a56, hex('56 3a 96 d9')],
];

function frame(stream: Buffer, digests: { headerDigest: boolean; dataDigest: boolean }): { pdus: InPdu[]; faults: FramerFault[] } {
  const pdus: InPdu[] = [];
  const faults: FramerFault[] = [];
  const framer = new PduFramer({ ...digests, maxDataSegmentLength: 8192 }, { onPdu: (p) => pdus.push(p), onFault: (f) => faults.push(f) });
  framer.push(stream);
  return { pdus, faults };
}

describe('CRC32C examples of RFC 3720 Appendix B.4', () => {
  it.each(VECTORS)('%s', (_name, input, crc, wire) => {
    expect(crc32cReference(input)).toBe(crc); // the reference agrees with the RFC
    expect(crc32cOf([input])).toBe(crc);
    // Any split of the input into parts (a PDU's data arrives in pieces) gives the same value.
    for (let cut = 0; cut <= input.length; cut++) expect(crc32cOf([input.subarray(0, cut), input.subarray(cut)])).toBe(crc);
    expect(crc32cOf([input.subarray(7)], crc32cOf([input.subarray(0, 7)]))).toBe(crc);
    // The bytes on the wire, least significant first, as the RFC prints them.
    expect(digestBytes(crc)).toEqual(wire);
    expect(digestOnWire(crc)).toEqual(wire);
    expect(readDigest(wire)).toBe(crc);
    expect(readDigest(Buffer.concat([hex('ff ff'), wire]), 2)).toBe(crc);
  });
});

describe('digests in the byte order on the wire (RFC 7143 §11.2.3)', () => {
  it('the framer accepts the RFC read command with its header digest bytes as printed, and refuses them reversed', () => {
    const good = frame(Buffer.concat([readCommandPdu, hex('56 3a 96 d9')]), { headerDigest: true, dataDigest: false });
    expect(good.faults).toEqual([]);
    expect(good.pdus).toHaveLength(1);
    expect(good.pdus[0]!.bhs).toEqual(readCommandPdu);

    const reversed = frame(Buffer.concat([readCommandPdu, hex('d9 96 3a 56')]), { headerDigest: true, dataDigest: false });
    expect(reversed.pdus).toEqual([]);
    expect(reversed.faults.map((f) => f.kind)).toEqual(['headerDigest']);
  });

  it('a data digest over 32 zero bytes travels as aa 36 91 8a; reversed, the PDU is dropped as a data digest error', () => {
    // NOP-Out, immediate, DataSegmentLength 32, ITT 1, TTT 0xffffffff (RFC 7143 §11.18).
    const nopOut = bhsRows(
      '40 80 00 00',
      '00 00 00 20',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 01',
      'ff ff ff ff',
      '00 00 00 01',
      '00 00 00 01',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
    );
    const header = Buffer.concat([nopOut, digestOnWire(crc32cReference(nopOut))]);
    const good = frame(Buffer.concat([header, Buffer.alloc(32), hex('aa 36 91 8a')]), { headerDigest: true, dataDigest: true });
    expect(good.faults).toEqual([]);
    expect(good.pdus.map((p) => p.data.toBuffer())).toEqual([Buffer.alloc(32)]);

    const reversed = frame(Buffer.concat([header, Buffer.alloc(32), hex('8a 91 36 aa')]), { headerDigest: true, dataDigest: true });
    expect(reversed.pdus).toEqual([]);
    expect(reversed.faults.map((f) => f.kind)).toEqual(['dataDigest']);
  });

  it('the serializer appends the RFC digest bytes after the header and after the (padded) data', () => {
    const pieces = pduPieces(readCommandPdu, Buffer.alloc(32), { headerDigest: true, dataDigest: true });
    expect(Buffer.concat(pieces)).toEqual(Buffer.concat([readCommandPdu, hex('56 3a 96 d9'), Buffer.alloc(32), hex('aa 36 91 8a')]));
    // 30 bytes of ones take 2 bytes of zero padding, and the data digest covers them (RFC 7143 §11.2.3).
    const padded = Buffer.concat(pduPieces(readCommandPdu, Buffer.alloc(30, 0xff), { headerDigest: false, dataDigest: true }));
    const dataAndPad = Buffer.concat([Buffer.alloc(30, 0xff), Buffer.alloc(2)]);
    expect(padded).toEqual(Buffer.concat([readCommandPdu, dataAndPad, digestOnWire(crc32cReference(dataAndPad))]));
  });
});
