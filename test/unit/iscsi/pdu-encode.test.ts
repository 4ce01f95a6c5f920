/**
 * Golden bytes for every PDU the target emits (target to initiator), written by hand from the byte
 * diagrams of RFC 7143 §11 (one string per 4-byte row, bytes 0-3 first), compared byte for byte
 * with the encoders' output; then whole PDUs (data, padding, digests) from the serializer against
 * bytes this suite assembles itself.
 */
import { describe, expect, it } from 'vitest';
import { BHS_LENGTH } from '../../../src/iscsi/opcodes.js';
import {
  encodeAsyncMessage,
  encodeDataIn,
  encodeLoginResponse,
  encodeLogoutResponse,
  encodeNopIn,
  encodeR2t,
  encodeReject,
  encodeScsiResponse,
  encodeTextResponse,
  encodeTmfResponse,
} from '../../../src/iscsi/pdu.js';
import { pduPieces } from '../../../src/iscsi/serialize.js';
import { bhsRows, hex, rowsOf, wireBytes } from '../../helpers/wire.js';

/** StatSN 0x100, ExpCmdSN 0x2b, MaxCmdSN 0x4a: rows 24-35 of every target PDU below. */
const SN = { statSN: 0x100, expCmdSN: 0x2b, maxCmdSN: 0x4a };
const SN_ROWS = ['00 00 01 00', '00 00 00 2b', '00 00 00 4a'] as const;

function expectBytes(encoded: Buffer, golden: Buffer): void {
  expect(encoded).toHaveLength(BHS_LENGTH);
  expect(rowsOf(encoded)).toEqual(rowsOf(golden));
}

describe('SCSI Response (RFC 7143 §11.4)', () => {
  it('GOOD, no residual', () => {
    const golden = bhsRows(
      '21 80 00 00', // opcode 0x21; byte 1: 1 0 0 o u O U 0 = 0x80; Response 0; Status GOOD
      '00 00 00 00', // TotalAHSLength 0, DataSegmentLength 0
      '00 00 00 00', // reserved
      '00 00 00 00',
      '12 34 56 78', // Initiator Task Tag
      '00 00 00 00', // SNACK Tag or reserved
      ...SN_ROWS, // StatSN, ExpCmdSN, MaxCmdSN
      '00 00 00 00', // ExpDataSN
      '00 00 00 00', // Bidirectional Read Residual Count
      '00 00 00 00', // Residual Count
    );
    expectBytes(encodeScsiResponse({ itt: 0x12345678, response: 0, status: 0, residual: 0, expDataSN: 0, dataLength: 0, ...SN }), golden);
  });

  it('CHECK CONDITION with sense data and an underflow (U bit, Residual Count)', () => {
    const golden = bhsRows('21 82 00 02', '00 00 00 14', '00 00 00 00', '00 00 00 00', '00 00 00 07', '00 00 00 00', ...SN_ROWS, '00 00 00 02', '00 00 00 00', '00 00 02 00');
    expectBytes(encodeScsiResponse({ itt: 7, response: 0, status: 2, residual: 512, expDataSN: 2, dataLength: 20, ...SN }), golden);
  });

  it('an overflow (O bit) and a target failure response', () => {
    const overflow = bhsRows('21 84 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 08', '00 00 00 00', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 04 00');
    expectBytes(encodeScsiResponse({ itt: 8, response: 0, status: 0, residual: -1024, expDataSN: 0, dataLength: 0, ...SN }), overflow);
    const failure = bhsRows('21 80 01 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 09', '00 00 00 00', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expectBytes(encodeScsiResponse({ itt: 9, response: 1, status: 0, residual: 0, expDataSN: 0, dataLength: 0, ...SN }), failure);
  });
});

describe('SCSI Data-In (RFC 7143 §11.7)', () => {
  it('not final, no status: no S bit, StatSN and Residual Count left reserved', () => {
    const golden = bhsRows(
      '25 00 00 00', // opcode 0x25; byte 1: F A 0 0 0 O U S = 0; reserved; Status reserved
      '00 00 20 00', // DataSegmentLength 8192
      '00 00 00 00', // LUN
      '00 00 00 00',
      '00 00 00 11', // Initiator Task Tag
      'ff ff ff ff', // Target Transfer Tag: none (A=0)
      '00 00 00 00', // StatSN: reserved without S
      '00 00 00 2b', // ExpCmdSN
      '00 00 00 4a', // MaxCmdSN
      '00 00 00 00', // DataSN
      '00 00 00 00', // Buffer Offset
      '00 00 00 00', // Residual Count: reserved without S
    );
    expectBytes(
      encodeDataIn({ itt: 0x11, lun: 0, final: false, residual: 4096, dataSN: 0, bufferOffset: 0, dataLength: 8192, ...SN }),
      golden,
    );
  });

  it('final, with status collapsed in (F and S), an underflow (U), StatSN and Residual Count', () => {
    // Bytes 8-15: the command's LUN. §11.7.4 makes the LUN field reserved when A=0 (no Target
    // Transfer Tag); Scatter fills it in regardless, initiators ignore it.
    const golden = bhsRows('25 83 00 00', '00 00 10 00', '00 02 00 00', '00 00 00 00', '00 00 00 11', 'ff ff ff ff', ...SN_ROWS, '00 00 00 01', '00 00 20 00', '00 00 02 00');
    expectBytes(
      encodeDataIn({ itt: 0x11, lun: 2, final: true, status: 0, residual: 512, dataSN: 1, bufferOffset: 8192, dataLength: 4096, ...SN }),
      golden,
    );
  });

  it('an overflow (O) with a non-GOOD status', () => {
    const golden = bhsRows('25 85 00 02', '00 00 02 00', '00 00 00 00', '00 00 00 00', '00 00 00 12', 'ff ff ff ff', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 40');
    expectBytes(
      encodeDataIn({ itt: 0x12, lun: 0, final: true, status: 2, residual: -64, dataSN: 0, bufferOffset: 0, dataLength: 512, ...SN }),
      golden,
    );
  });
});

describe('Ready To Transfer (RFC 7143 §11.8)', () => {
  it('R2T for a burst at an offset, flat-space LUN', () => {
    const golden = bhsRows(
      '31 80 00 00', // opcode 0x31; F=1
      '00 00 00 00', // no AHS, no data
      '41 23 00 00', // LUN 0x123 (flat space addressing)
      '00 00 00 00',
      '00 00 00 13', // Initiator Task Tag
      '00 00 00 0a', // Target Transfer Tag
      ...SN_ROWS, // StatSN, ExpCmdSN, MaxCmdSN
      '00 00 00 02', // R2TSN
      '00 01 00 00', // Buffer Offset
      '00 04 00 00', // Desired Data Transfer Length
    );
    expectBytes(encodeR2t({ itt: 0x13, ttt: 0x0a, lun: 0x123, r2tSN: 2, bufferOffset: 0x10000, desiredLength: 0x40000, ...SN }), golden);
  });
});

describe('Login Response (RFC 7143 §11.13)', () => {
  const isid = hex('80 12 34 56 78 9a');

  it('success, transit to full feature phase, the new TSIH', () => {
    const golden = bhsRows(
      '23 87 00 00', // opcode 0x23; T=1 C=0 CSG=1 NSG=3; Version-max 0; Version-active 0
      '00 00 00 55', // DataSegmentLength 85
      '80 12 34 56', // ISID
      '78 9a 00 07', //   ... TSIH 7
      '00 00 00 01', // Initiator Task Tag
      '00 00 00 00', // reserved
      ...SN_ROWS, // StatSN, ExpCmdSN, MaxCmdSN
      '00 00 00 00', // Status-Class 0, Status-Detail 0, reserved
      '00 00 00 00',
      '00 00 00 00',
    );
    expectBytes(
      encodeLoginResponse({ transit: true, cont: false, csg: 1, nsg: 3, versionMax: 0, versionActive: 0, isid, tsih: 7, itt: 1, statusClass: 0, statusDetail: 0, dataLength: 0x55, ...SN }),
      golden,
    );
  });

  it('authentication failure (class 2, detail 1) in the security stage; a continued response (C)', () => {
    const failure = bhsRows('23 01 00 00', '00 00 00 00', '80 12 34 56', '78 9a 00 00', '00 00 00 02', '00 00 00 00', ...SN_ROWS, '02 01 00 00', '00 00 00 00', '00 00 00 00');
    expectBytes(
      encodeLoginResponse({ transit: false, cont: false, csg: 0, nsg: 1, versionMax: 0, versionActive: 0, isid, tsih: 0, itt: 2, statusClass: 2, statusDetail: 1, dataLength: 0, ...SN }),
      failure,
    );
    const continued = bhsRows('23 41 00 00', '00 00 20 00', '80 12 34 56', '78 9a 00 00', '00 00 00 02', '00 00 00 00', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expectBytes(
      encodeLoginResponse({ transit: false, cont: true, csg: 0, nsg: 1, versionMax: 0, versionActive: 0, isid, tsih: 0, itt: 2, statusClass: 0, statusDetail: 0, dataLength: 8192, ...SN }),
      continued,
    );
  });
});

describe('Text Response (RFC 7143 §11.11)', () => {
  it('a part with more to come (C=1, F=0) and its Target Transfer Tag; the final part (F=1, TTT 0xffffffff)', () => {
    const part = bhsRows('24 40 00 00', '00 00 20 00', '00 00 00 00', '00 00 00 00', '00 00 00 05', '00 00 00 07', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expectBytes(encodeTextResponse({ final: false, cont: true, lun: 0, itt: 5, ttt: 7, dataLength: 8192, ...SN }), part);
    const last = bhsRows('24 80 00 00', '00 00 00 31', '00 00 00 00', '00 00 00 00', '00 00 00 05', 'ff ff ff ff', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expectBytes(encodeTextResponse({ final: true, cont: false, lun: 0, itt: 5, ttt: 0xffffffff, dataLength: 49, ...SN }), last);
  });
});

describe('NOP-In (RFC 7143 §11.19)', () => {
  it('the answer to a NOP-Out: its ITT, TTT 0xffffffff, echoed data length', () => {
    const golden = bhsRows(
      '20 80 00 00', // opcode 0x20; byte 1 is 0x80
      '00 00 00 04', // DataSegmentLength 4
      '00 01 00 00', // LUN 1
      '00 00 00 00',
      '00 00 00 0a', // Initiator Task Tag
      'ff ff ff ff', // Target Transfer Tag
      ...SN_ROWS,
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
    );
    expectBytes(encodeNopIn({ lun: 1, itt: 10, ttt: 0xffffffff, dataLength: 4, ...SN }), golden);
  });

  it('a target ping: ITT 0xffffffff, a TTT to answer with', () => {
    const golden = bhsRows('20 80 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', 'ff ff ff ff', '00 00 00 03', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expectBytes(encodeNopIn({ lun: 0, itt: 0xffffffff, ttt: 3, dataLength: 0, ...SN }), golden);
  });
});

describe('Task Management Function Response (RFC 7143 §11.6)', () => {
  it('task does not exist (response 1)', () => {
    const golden = bhsRows(
      '22 80 01 00', // opcode 0x22; byte 1 is 0x80; Response 1; reserved
      '00 00 00 00',
      '00 00 00 00', // reserved
      '00 00 00 00',
      '00 00 00 0b', // Initiator Task Tag
      '00 00 00 00', // reserved
      ...SN_ROWS,
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
    );
    expectBytes(encodeTmfResponse({ itt: 11, response: 1, ...SN }), golden);
  });

  it('function rejected (response 255)', () => {
    const golden = bhsRows('22 80 ff 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 0c', '00 00 00 00', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expectBytes(encodeTmfResponse({ itt: 12, response: 255, ...SN }), golden);
  });
});

describe('Logout Response (RFC 7143 §11.15)', () => {
  it('closed, with Time2Wait and Time2Retain', () => {
    const golden = bhsRows(
      '26 80 00 00', // opcode 0x26; byte 1 is 0x80; Response 0
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 0d', // Initiator Task Tag
      '00 00 00 00', // reserved
      ...SN_ROWS,
      '00 00 00 00', // reserved
      '00 02 00 14', // Time2Wait 2, Time2Retain 20
      '00 00 00 00',
    );
    expectBytes(encodeLogoutResponse({ itt: 13, response: 0, time2Wait: 2, time2Retain: 20, ...SN }), golden);
  });
});

describe('Reject (RFC 7143 §11.17)', () => {
  it('invalid PDU field: ITT 0xffffffff, the rejected header as the 48-byte data segment', () => {
    const golden = bhsRows(
      '3f 80 09 00', // opcode 0x3f; byte 1 is 0x80; Reason 0x09; reserved
      '00 00 00 30', // DataSegmentLength 48
      '00 00 00 00',
      '00 00 00 00',
      'ff ff ff ff', // 0xffffffff
      '00 00 00 00', // reserved
      ...SN_ROWS,
      '00 00 00 00', // DataSN/R2TSN or reserved
      '00 00 00 00',
      '00 00 00 00',
    );
    expectBytes(encodeReject({ reason: 0x09, dataSN: 0, ...SN }), golden);
    const withSn = bhsRows('3f 80 04 00', '00 00 00 30', '00 00 00 00', '00 00 00 00', 'ff ff ff ff', '00 00 00 00', ...SN_ROWS, '00 00 00 05', '00 00 00 00', '00 00 00 00');
    expectBytes(encodeReject({ reason: 0x04, dataSN: 5, ...SN }), withSn);
  });
});

describe('Asynchronous Message (RFC 7143 §11.9)', () => {
  it('event 1 (logout requested), parameters in place', () => {
    const golden = bhsRows(
      '32 80 00 00', // opcode 0x32; byte 1 is 0x80
      '00 00 00 00',
      '00 00 00 00', // LUN (reserved for this event)
      '00 00 00 00',
      'ff ff ff ff', // 0xffffffff
      '00 00 00 00', // reserved
      ...SN_ROWS,
      '01 00 00 05', // AsyncEvent 1, AsyncVCode 0, Parameter1 5
      '00 06 00 07', // Parameter2 6, Parameter3 7
      '00 00 00 00',
    );
    expectBytes(encodeAsyncMessage({ lun: 0, event: 1, vcode: 0, parameter1: 5, parameter2: 6, parameter3: 7, dataLength: 0, ...SN }), golden);
  });

  it('event 0 (SCSI async event) for LUN 2 with sense data', () => {
    const golden = bhsRows('32 80 00 00', '00 00 00 14', '00 02 00 00', '00 00 00 00', 'ff ff ff ff', '00 00 00 00', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expectBytes(encodeAsyncMessage({ lun: 2, event: 0, vcode: 0, parameter1: 0, parameter2: 0, parameter3: 0, dataLength: 20, ...SN }), golden);
  });
});

describe('whole PDUs from the serializer (RFC 7143 §11.2)', () => {
  const nopIn = bhsRows('20 80 00 00', '00 00 00 05', '00 00 00 00', '00 00 00 00', '00 00 00 0a', 'ff ff ff ff', ...SN_ROWS, '00 00 00 00', '00 00 00 00', '00 00 00 00');

  for (const headerDigest of [false, true]) {
    for (const dataDigest of [false, true]) {
      it(`NOP-In with 5 bytes of data: BHS, digest, data, 3 bytes of padding, digest (HeaderDigest=${headerDigest} DataDigest=${dataDigest})`, () => {
        const digests = { headerDigest, dataDigest };
        const data = Buffer.from('hello');
        const bhs = encodeNopIn({ lun: 0, itt: 10, ttt: 0xffffffff, dataLength: data.length, ...SN });
        expect(Buffer.concat(pduPieces(bhs, data, digests))).toEqual(wireBytes({ bhs: nopIn, data }, digests));
        expect(wireBytes({ bhs: nopIn, data }, digests)).toHaveLength(48 + (headerDigest ? 4 : 0) + 8 + (dataDigest ? 4 : 0));
      });
    }
  }

  it('a PDU without data has neither padding nor a data digest', () => {
    const bhs = encodeTmfResponse({ itt: 11, response: 0, ...SN });
    expect(Buffer.concat(pduPieces(bhs, undefined, { headerDigest: true, dataDigest: true }))).toEqual(
      wireBytes({ bhs }, { headerDigest: true, dataDigest: true }),
    );
    expect(Buffer.concat(pduPieces(bhs, Buffer.alloc(0), { headerDigest: false, dataDigest: true }))).toEqual(bhs);
  });

  it('a Reject carries the rejected BHS as its data', () => {
    const rejected = bhsRows('1c 80 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 01', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00');
    const bhs = encodeReject({ reason: 0x05, dataSN: 0, ...SN });
    const wire = Buffer.concat(pduPieces(bhs, rejected, { headerDigest: false, dataDigest: true }));
    expect(wire.subarray(48, 96)).toEqual(rejected);
    expect(wire).toEqual(wireBytes({ bhs, data: rejected }, { headerDigest: false, dataDigest: true }));
  });
});
