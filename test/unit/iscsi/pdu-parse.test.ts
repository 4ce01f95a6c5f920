/**
 * Golden bytes for every PDU the target parses (initiator to target), written by hand from the
 * byte diagrams of RFC 7143 §11 (one string per 4-byte row, bytes 0-3 first), and the parse
 * results compared field by field. SNACK (§11.16) is not parsed: at ErrorRecoveryLevel 0 the
 * session rejects it whole (test/integration/rfc-strict.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  AhsError,
  dataSegmentLength,
  isFinal,
  isImmediate,
  ittOf,
  opcodeOf,
  parseDataOut,
  parseLoginRequest,
  parseLogoutRequest,
  parseNopOut,
  parseScsiCommand,
  parseTextRequest,
  parseTmfRequest,
  totalAhsLength,
} from '../../../src/iscsi/pdu.js';
import { bhsRows, hex, rowsOf } from '../../helpers/wire.js';

const NO_AHS = Buffer.alloc(0);

describe('SCSI Command (RFC 7143 §11.3)', () => {
  it('WRITE(10), Simple, LUN 5, no AHS', () => {
    const bhs = bhsRows(
      '01 a1 00 00', // opcode 0x01; F=1 R=0 W=1, ATTR=1 (Simple)
      '00 00 02 00', // TotalAHSLength 0, DataSegmentLength 512
      '00 05 00 00', // LUN 5 (SAM peripheral addressing)
      '00 00 00 00',
      '12 34 56 78', // Initiator Task Tag
      '00 00 10 00', // Expected Data Transfer Length 4096
      '00 00 00 2a', // CmdSN
      '00 00 00 07', // ExpStatSN
      '2a 00 00 00', // CDB: WRITE(10), LBA 16, 8 blocks
      '00 10 00 00',
      '08 00 00 00',
      '00 00 00 00',
    );
    expect(opcodeOf(bhs)).toBe(0x01);
    expect(isImmediate(bhs)).toBe(false);
    expect(isFinal(bhs)).toBe(true);
    expect(totalAhsLength(bhs)).toBe(0);
    expect(dataSegmentLength(bhs)).toBe(512);
    expect(ittOf(bhs)).toBe(0x12345678);
    expect(parseScsiCommand(bhs, NO_AHS)).toEqual({
      immediate: false,
      final: true,
      read: false,
      write: true,
      attr: 1,
      lun: 5,
      itt: 0x12345678,
      expectedDataTransferLength: 4096,
      cmdSN: 42,
      expStatSN: 7,
      cdb: hex('2a 00 00 00 00 10 00 00 08 00 00 00 00 00 00 00'),
      bidiReadLength: undefined,
    });
  });

  it('READ(16), immediate, Ordered, flat-space LUN 0x123, CmdSN and EDTL with the top bit set', () => {
    const bhs = bhsRows(
      '41 c2 00 00', // I=1, opcode 0x01; F=1 R=1 W=0, ATTR=2 (Ordered)
      '00 00 00 00',
      '41 23 00 00', // LUN 0x123 (flat space addressing, method 01b)
      '00 00 00 00',
      'ff ff ff fe',
      '80 00 00 00', // EDTL 2^31
      'ff ff ff ff', // CmdSN 2^32 - 1
      '80 00 00 01',
      '88 00 01 02', // CDB: READ(16), LBA 0x0102030405060708, 0x10 blocks
      '03 04 05 06',
      '07 08 00 00',
      '00 10 00 00',
    );
    expect(isImmediate(bhs)).toBe(true);
    expect(parseScsiCommand(bhs, NO_AHS)).toEqual({
      immediate: true,
      final: true,
      read: true,
      write: false,
      attr: 2,
      lun: 0x123,
      itt: 0xfffffffe,
      expectedDataTransferLength: 0x80000000,
      cmdSN: 0xffffffff,
      expStatSN: 0x80000001,
      cdb: hex('88 00 01 02 03 04 05 06 07 08 00 00 00 10 00 00'),
      bidiReadLength: undefined,
    });
  });

  it('a 32-byte CDB: Extended CDB AHS (§11.2.2.2) and Bidirectional Read Expected Data Transfer Length AHS (§11.2.2.3)', () => {
    const cdb = Buffer.from(Array.from({ length: 32 }, (_, i) => (i === 0 ? 0x7f : 0x40 + i)));
    const bhs = bhsRows(
      '01 e1 00 00', // F=1 R=1 W=1 (bidirectional), Simple
      '07 00 00 00', // TotalAHSLength 7 words (28 bytes)
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 09',
      '00 00 02 00',
      '00 00 00 03',
      '00 00 00 02',
      ...rowsOf(cdb.subarray(0, 16)), // the first 16 CDB bytes sit in the BHS
    );
    const ahs = hex(
      '00 11 01 00', // AHSLength 17 (= CDB length - 15), AHSType 1, reserved
      cdb.subarray(16).toString('hex'), // CDB bytes 16-31: no padding needed
      '00 05 02 00', // AHSLength 5, AHSType 2, reserved
      '00 00 10 00', // Bidirectional Read Expected Data Transfer Length 4096
    );
    expect(ahs).toHaveLength(28);
    expect(totalAhsLength(bhs)).toBe(ahs.length);
    const cmd = parseScsiCommand(bhs, ahs);
    expect(cmd.cdb).toEqual(cdb);
    expect(cmd.bidiReadLength).toBe(4096);
    expect(cmd).toMatchObject({ read: true, write: true, itt: 9, expectedDataTransferLength: 512, cmdSN: 3, expStatSN: 2 });
  });

  it('an 18-byte CDB: the Extended CDB AHS is padded to a word, the next AHS starts after the padding', () => {
    const cdb = Buffer.from(Array.from({ length: 18 }, (_, i) => 0xc0 + i));
    const bhs = bhsRows('01 81 00 00', '04 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 01', '00 00 00 00', '00 00 00 01', '00 00 00 01', ...rowsOf(cdb.subarray(0, 16)));
    const ahs = hex(
      '00 03 01 00', // AHSLength 3: reserved byte + 2 CDB bytes
      cdb.subarray(16).toString('hex') + '00 00', // CDB bytes 16-17, 2 bytes of padding
      '00 05 02 00',
      '00 00 00 40',
    );
    expect(totalAhsLength(bhs)).toBe(ahs.length);
    expect(parseScsiCommand(bhs, ahs)).toMatchObject({ cdb, bidiReadLength: 64 });
  });

  it('a malformed AHS is an AhsError, never a wrong CDB', () => {
    const bhs = bhsRows('01 81 00 00', '01 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 01', '00 00 00 00', '00 00 00 01', '00 00 00 01', '12 00 00 00', '24 00 00 00', '00 00 00 00', '00 00 00 00');
    expect(() => parseScsiCommand(bhs, hex('00 09 01 00'))).toThrow(AhsError); // AHSLength past the AHS area
    expect(() => parseScsiCommand(bhs, hex('00 01 03 00'))).toThrow(AhsError); // AHSType 3 is not defined
    expect(() => parseScsiCommand(bhs, hex('00 04 02 00 00 00 00 40'))).toThrow(AhsError); // a bidi AHS has length 5
    expect(() => parseScsiCommand(bhs, hex('00 01'))).toThrow(AhsError); // truncated AHS header
  });
});

describe('SCSI Data-Out (RFC 7143 §11.7)', () => {
  it('final Data-Out answering an R2T', () => {
    const bhs = bhsRows(
      '05 80 00 00', // opcode 0x05, F=1
      '00 00 10 00', // DataSegmentLength 4096
      '00 05 00 00', // LUN 5
      '00 00 00 00',
      '12 34 56 78', // Initiator Task Tag
      '00 00 00 09', // Target Transfer Tag (from the R2T)
      '00 00 00 00', // reserved
      '00 00 00 08', // ExpStatSN
      '00 00 00 00', // reserved
      '00 00 00 03', // DataSN
      '00 00 30 00', // Buffer Offset
      '00 00 00 00', // reserved
    );
    expect(opcodeOf(bhs)).toBe(0x05);
    expect(dataSegmentLength(bhs)).toBe(4096);
    expect(parseDataOut(bhs)).toEqual({ final: true, lun: 5, itt: 0x12345678, ttt: 9, expStatSN: 8, dataSN: 3, bufferOffset: 0x3000 });
  });

  it('unsolicited, not final: Target Transfer Tag 0xffffffff', () => {
    const bhs = bhsRows('05 00 00 00', '00 02 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 0a', 'ff ff ff ff', '00 00 00 00', '00 00 00 01', '00 00 00 00', '00 00 00 00', '00 00 20 00', '00 00 00 00');
    expect(parseDataOut(bhs)).toEqual({ final: false, lun: 0, itt: 10, ttt: 0xffffffff, expStatSN: 1, dataSN: 0, bufferOffset: 8192 });
    expect(dataSegmentLength(bhs)).toBe(131072);
  });
});

describe('Login Request (RFC 7143 §11.12)', () => {
  it('transit from operational negotiation to full feature phase', () => {
    const bhs = bhsRows(
      '43 87 00 00', // I=1 opcode 0x03; T=1 C=0 CSG=1 NSG=3; Version-max 0, Version-min 0
      '00 00 01 9e', // DataSegmentLength 414
      '80 12 34 56', // ISID (6 bytes)
      '78 9a 00 00', //   ... TSIH 0
      '00 00 00 01', // Initiator Task Tag
      '00 02 00 00', // CID 2, reserved
      '00 00 00 10', // CmdSN
      '00 00 00 00', // ExpStatSN
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
    );
    expect(opcodeOf(bhs)).toBe(0x03);
    expect(isImmediate(bhs)).toBe(true);
    expect(dataSegmentLength(bhs)).toBe(414);
    expect(parseLoginRequest(bhs)).toEqual({
      transit: true,
      cont: false,
      csg: 1,
      nsg: 3,
      versionMax: 0,
      versionMin: 0,
      isid: hex('80 12 34 56 78 9a'),
      tsih: 0,
      itt: 1,
      cid: 2,
      cmdSN: 16,
      expStatSN: 0,
    });
  });

  it('continued text in the security stage, naming an existing session (TSIH)', () => {
    const bhs = bhsRows('43 41 00 00', '00 00 20 00', '40 00 01 37', '00 00 01 02', 'a0 00 00 00', '00 00 00 00', '00 00 00 05', '00 00 00 09', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expect(parseLoginRequest(bhs)).toEqual({
      transit: false,
      cont: true,
      csg: 0,
      nsg: 1,
      versionMax: 0,
      versionMin: 0,
      isid: hex('40 00 01 37 00 00'),
      tsih: 0x0102,
      itt: 0xa0000000,
      cid: 0,
      cmdSN: 5,
      expStatSN: 9,
    });
  });
});

describe('Text Request (RFC 7143 §11.10)', () => {
  it('first PDU of a continued request: C=1, F=0, TTT 0xffffffff', () => {
    const bhs = bhsRows(
      '04 40 00 00', // opcode 0x04; F=0 C=1
      '00 00 00 10', // DataSegmentLength 16
      '00 00 00 00', // LUN (reserved here)
      '00 00 00 00',
      '00 00 00 05', // Initiator Task Tag
      'ff ff ff ff', // Target Transfer Tag
      '00 00 00 11', // CmdSN
      '00 00 00 03', // ExpStatSN
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
    );
    expect(parseTextRequest(bhs)).toEqual({ immediate: false, final: false, cont: true, lun: 0, itt: 5, ttt: 0xffffffff, cmdSN: 17, expStatSN: 3 });
  });

  it('immediate, final, asking for the next part of a response (the target’s TTT)', () => {
    const bhs = bhsRows('44 80 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 06', '00 00 00 07', '00 00 00 12', '00 00 00 04', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expect(parseTextRequest(bhs)).toEqual({ immediate: true, final: true, cont: false, lun: 0, itt: 6, ttt: 7, cmdSN: 18, expStatSN: 4 });
  });
});

describe('NOP-Out (RFC 7143 §11.18)', () => {
  it('a ping from the initiator: ITT set, TTT 0xffffffff, ping data', () => {
    const bhs = bhsRows(
      '40 80 00 00', // I=1 opcode 0x00; byte 1 is 0x80
      '00 00 00 04', // DataSegmentLength 4
      '00 01 00 00', // LUN 1
      '00 00 00 00',
      '00 00 00 0a', // Initiator Task Tag
      'ff ff ff ff', // Target Transfer Tag
      '00 00 00 20', // CmdSN
      '00 00 00 04', // ExpStatSN
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
    );
    expect(opcodeOf(bhs)).toBe(0x00);
    expect(parseNopOut(bhs)).toEqual({ immediate: true, lun: 1, itt: 10, ttt: 0xffffffff, cmdSN: 32, expStatSN: 4 });
  });

  it('the answer to a target ping: ITT 0xffffffff, the ping’s TTT', () => {
    const bhs = bhsRows('40 80 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', 'ff ff ff ff', '00 00 00 03', '00 00 00 21', '00 00 00 05', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expect(parseNopOut(bhs)).toEqual({ immediate: true, lun: 0, itt: 0xffffffff, ttt: 3, cmdSN: 33, expStatSN: 5 });
  });
});

describe('Task Management Function Request (RFC 7143 §11.5)', () => {
  it('ABORT TASK', () => {
    const bhs = bhsRows(
      '42 81 00 00', // I=1 opcode 0x02; byte 1: 1 | function 1 (ABORT TASK)
      '00 00 00 00',
      '00 03 00 00', // LUN 3
      '00 00 00 00',
      '00 00 00 0b', // Initiator Task Tag
      '00 00 00 04', // Referenced Task Tag
      '00 00 00 21', // CmdSN
      '00 00 00 05', // ExpStatSN
      '00 00 00 1f', // RefCmdSN
      '00 00 00 00', // ExpDataSN
      '00 00 00 00',
      '00 00 00 00',
    );
    expect(parseTmfRequest(bhs)).toEqual({ immediate: true, fn: 1, lun: 3, itt: 11, referencedTaskTag: 4, cmdSN: 33, expStatSN: 5, refCmdSN: 31 });
  });

  it('TARGET COLD RESET: Referenced Task Tag 0xffffffff', () => {
    const bhs = bhsRows('42 87 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 0c', 'ff ff ff ff', '00 00 00 22', '00 00 00 06', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expect(parseTmfRequest(bhs)).toEqual({ immediate: true, fn: 7, lun: 0, itt: 12, referencedTaskTag: 0xffffffff, cmdSN: 34, expStatSN: 6, refCmdSN: 0 });
  });
});

describe('Logout Request (RFC 7143 §11.14)', () => {
  it('close the session', () => {
    const bhs = bhsRows(
      '46 80 00 00', // I=1 opcode 0x06; byte 1: 1 | reason 0
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 0d', // Initiator Task Tag
      '00 00 00 00', // CID, reserved
      '00 00 00 23', // CmdSN
      '00 00 00 07', // ExpStatSN
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
    );
    expect(parseLogoutRequest(bhs)).toEqual({ immediate: true, reason: 0, itt: 13, cid: 0, cmdSN: 35, expStatSN: 7 });
  });

  it('remove a connection for recovery, naming its CID', () => {
    const bhs = bhsRows('06 82 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 0e', '00 01 00 00', '00 00 00 24', '00 00 00 08', '00 00 00 00', '00 00 00 00', '00 00 00 00', '00 00 00 00');
    expect(parseLogoutRequest(bhs)).toEqual({ immediate: false, reason: 2, itt: 14, cid: 1, cmdSN: 36, expStatSN: 8 });
  });
});
