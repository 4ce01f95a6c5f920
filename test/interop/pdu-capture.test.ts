/**
 * The codec against a real initiator and a real dissector: tshark captures libiscsi (iscsi-inq: a
 * login and INQUIRYs) and QEMU's iSCSI driver (qemu-img: a login with header digests and a 512 KiB
 * WRITE with immediate data and solicited Data-Out) talking to a test target on loopback. The
 * initiators' byte streams from the pcap go through the target's own framer and parsers, and every
 * PDU must come out as Wireshark's iSCSI and SCSI dissectors decode it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PduFramer } from '../../src/iscsi/framer.js';
import { Op } from '../../src/iscsi/opcodes.js';
import {
  dataSegmentLength,
  isImmediate,
  ittOf,
  opcodeOf,
  parseDataOut,
  parseLoginRequest,
  parseLogoutRequest,
  parseNopOut,
  parseScsiCommand,
  totalAhsLength,
  type InPdu,
} from '../../src/iscsi/pdu.js';
import { startCapture } from '../helpers/capture.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { missingTools, run } from '../helpers/tools.js';
import { dissectedPdus, initiatorStreams, num, type DissectedPdu, type Fields } from '../helpers/tshark-iscsi.js';

const missing = missingTools(['tshark', 'iscsi-inq', 'qemu-img']);
const WRITE_BYTES = 512 * 1024;

/** One initiator PDU: as the target's framer and parsers see it, and as tshark dissects it. */
interface Pair {
  ours: InPdu;
  theirs: DissectedPdu;
}

/**
 * Frame one connection's initiator bytes as the target does: no digests during login, then the
 * digests the target agreed to (from tshark's view of its Login Responses).
 */
function frameConnection(bytes: Buffer, digests: { headerDigest: boolean; dataDigest: boolean }): { pdus: InPdu[]; faults: string[] } {
  const pdus: InPdu[] = [];
  const faults: string[] = [];
  const framer: PduFramer = new PduFramer(
    { headerDigest: false, dataDigest: false, maxDataSegmentLength: 16 * 1024 * 1024 },
    {
      onPdu: (p) => {
        pdus.push(p);
        // The last Login Request (T=1, NSG=3): what follows is full feature phase.
        if (opcodeOf(p.bhs) === Op.LOGIN_REQ && (p.bhs[1]! & 0x83) === 0x83) framer.update(digests);
      },
      onFault: (f) => faults.push(f.kind),
    },
  );
  framer.push(bytes);
  if (framer.buffered !== 0) faults.push(`${framer.buffered} bytes left unframed`);
  return { pdus, faults };
}

const keyValues = (pdu: DissectedPdu): string[] => {
  const kv = (pdu.iscsi['Key/Value Pairs'] as Fields | undefined)?.['iscsi.keyvalue'];
  return kv === undefined ? [] : Array.isArray(kv) ? (kv as string[]) : [kv as string];
};

const lunOf = (pdu: DissectedPdu): number | undefined => {
  const lun = pdu.iscsi.LUN as Fields | undefined;
  return lun ? num(lun, 'scsi.lun') : undefined;
};

describe.skipIf(missing.length > 0)('initiator PDUs captured from libiscsi and QEMU: the target decodes them as tshark does', () => {
  let t: TestTarget;
  let written: Buffer;
  const pairs: Pair[] = [];
  const framingFaults: string[] = [];
  const headerDigestStreams: number[] = [];

  beforeAll(async () => {
    t = await startTestTarget();
    const capture = await startCapture(t.port, join(t.dir, 'initiators.pcapng'));
    written = randomBytes(WRITE_BYTES);
    const source = join(t.dir, 'source.raw');
    writeFileSync(source, written);
    try {
      const inq = await run('iscsi-inq', [`iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`]);
      expect(inq.code, inq.stderr).toBe(0);
      const opts = `driver=iscsi,transport=tcp,portal=127.0.0.1:${t.port},target=${TEST_IQN},lun=0,header-digest=crc32c`;
      const convert = await run('qemu-img', ['convert', '-f', 'raw', '-n', source, '--target-image-opts', opts], 60_000);
      expect(convert.code, convert.stderr).toBe(0);
    } finally {
      await capture.stop();
    }

    const dissected = await dissectedPdus(capture.file, t.port);
    const streams = await initiatorStreams(capture.file, t.port);
    for (const [stream, bytes] of streams) {
      // The digests the target agreed to, from its Login Responses as tshark reads them.
      const agreed = dissected
        .filter((p) => p.stream === stream && !p.fromInitiator && num(p.iscsi, 'iscsi.opcode') === Op.LOGIN_RSP)
        .flatMap(keyValues);
      const digests = { headerDigest: agreed.includes('HeaderDigest=CRC32C'), dataDigest: agreed.includes('DataDigest=CRC32C') };
      if (digests.headerDigest) headerDigestStreams.push(stream);
      const { pdus, faults } = frameConnection(bytes, digests);
      framingFaults.push(...faults.map((f) => `stream ${stream}: ${f}`));
      const theirs = dissected.filter((p) => p.stream === stream && p.fromInitiator);
      expect(pdus.length, `stream ${stream}: PDUs framed by the target vs dissected by tshark`).toBe(theirs.length);
      pdus.forEach((ours, k) => pairs.push({ ours, theirs: theirs[k]! }));
    }
  }, 180_000);
  afterAll(() => t?.stop());

  const ofOpcode = (op: number): Pair[] => pairs.filter((p) => opcodeOf(p.ours.bhs) === op);

  it('the capture holds both connections; QEMU’s ran with header digests, which the framer checked', () => {
    expect(framingFaults).toEqual([]);
    expect(new Set(pairs.map((p) => p.theirs.stream)).size).toBe(2);
    expect(headerDigestStreams).toHaveLength(1);
    const digested = pairs.filter((p) => p.theirs.stream === headerDigestStreams[0] && opcodeOf(p.ours.bhs) !== Op.LOGIN_REQ);
    expect(digested.length).toBeGreaterThan(0);
    for (const { theirs } of digested) expect(theirs.iscsi['iscsi.headerdigest32'], `frame ${theirs.frame}`).toBeDefined();
    // What QEMU wrote is on the LU.
    expect(readFileSync(join(t.dir, 'lun0.img')).subarray(0, WRITE_BYTES).equals(written)).toBe(true);
  });

  it('every PDU: opcode, I bit, ITT, TotalAHSLength, DataSegmentLength', () => {
    expect(pairs.length).toBeGreaterThan(10);
    for (const { ours, theirs } of pairs) {
      const at = `frame ${theirs.frame}`;
      expect(opcodeOf(ours.bhs), at).toBe(num(theirs.iscsi, 'iscsi.opcode'));
      expect(ittOf(ours.bhs), at).toBe(num(theirs.iscsi, 'iscsi.initiatortasktag'));
      expect(totalAhsLength(ours.bhs) / 4, at).toBe(num(theirs.iscsi, 'iscsi.totalahslength'));
      expect(dataSegmentLength(ours.bhs), at).toBe(num(theirs.iscsi, 'iscsi.datasegmentlength'));
      expect(ours.data.length, at).toBe(dataSegmentLength(ours.bhs));
      if (theirs.iscsi['iscsi.I'] !== undefined) expect(isImmediate(ours.bhs), at).toBe(theirs.iscsi['iscsi.I'] === '1');
    }
  });

  it('Login Requests: stages, version, ISID, TSIH, CID, CmdSN, ExpStatSN', () => {
    const logins = ofOpcode(Op.LOGIN_REQ);
    expect(logins.length).toBeGreaterThanOrEqual(2);
    for (const { ours, theirs } of logins) {
      const at = `frame ${theirs.frame}`;
      const req = parseLoginRequest(ours.bhs);
      expect(req.transit, at).toBe(theirs.iscsi['iscsi.login.T'] === '1');
      expect(req.cont, at).toBe(theirs.iscsi['iscsi.login.C'] === '1');
      expect(req.csg, at).toBe(num(theirs.iscsi, 'iscsi.login.csg'));
      expect(req.nsg, at).toBe(num(theirs.iscsi, 'iscsi.login.nsg'));
      expect(req.versionMax, at).toBe(num(theirs.iscsi, 'iscsi.versionmax'));
      expect(req.versionMin, at).toBe(num(theirs.iscsi, 'iscsi.versionmin'));
      expect(req.isid.toString('hex'), at).toBe(String(theirs.iscsi['iscsi.isid']).replace(/:/g, ''));
      expect(req.tsih, at).toBe(num(theirs.iscsi, 'iscsi.tsih'));
      expect(req.cid, at).toBe(num(theirs.iscsi, 'iscsi.cid'));
      expect(req.cmdSN, at).toBe(num(theirs.iscsi, 'iscsi.cmdsn'));
      expect(req.expStatSN, at).toBe(num(theirs.iscsi, 'iscsi.expstatsn'));
      expect(keyValues(theirs).some((kv) => kv.startsWith('InitiatorName=')), at).toBe(true);
    }
  });

  it('SCSI Commands: LUN, EDTL, CmdSN, ExpStatSN, and the CDB as the SCSI dissector decodes it', () => {
    const commands = ofOpcode(Op.SCSI_CMD);
    const checked = new Map<number, number>();
    for (const { ours, theirs } of commands) {
      const at = `frame ${theirs.frame}`;
      const cmd = parseScsiCommand(ours.bhs, ours.ahs);
      expect(cmd.lun, at).toBe(lunOf(theirs));
      expect(cmd.expectedDataTransferLength, at).toBe(num(theirs.iscsi, 'iscsi.scsicommand.expecteddatatransferlength'));
      expect(cmd.cmdSN, at).toBe(num(theirs.iscsi, 'iscsi.cmdsn'));
      expect(cmd.expStatSN, at).toBe(num(theirs.iscsi, 'iscsi.expstatsn'));
      const scsi = theirs.scsi[0];
      if (!scsi) continue;
      const opcode = num(scsi, 'scsi_sbc.opcode') ?? num(scsi, 'scsi.spc.opcode');
      expect(cmd.cdb[0], at).toBe(opcode);
      if (cmd.cdb[0] === 0x2a || cmd.cdb[0] === 0x28) {
        expect(cmd.cdb.readUInt32BE(2), at).toBe(num(scsi, 'scsi_sbc.rdwr10.lba'));
        expect(cmd.cdb.readUInt16BE(7), at).toBe(num(scsi, 'scsi_sbc.rdwr10.xferlen'));
      }
      if (cmd.cdb[0] === 0x12) {
        expect(cmd.cdb[1]! & 0x01, at).toBe(num(scsi, 'scsi.inquiry.flags')! & 0x01);
        if (cmd.cdb[1]! & 0x01) expect(cmd.cdb[2], at).toBe(num(scsi, 'scsi.inquiry.evpd.pagecode'));
        expect(cmd.cdb.readUInt16BE(3), at).toBe(num(scsi, 'scsi.cdb.alloclen16'));
      }
      checked.set(cmd.cdb[0]!, (checked.get(cmd.cdb[0]!) ?? 0) + 1);
    }
    // Not vacuous: the WRITE(10) of qemu-img and the INQUIRYs of iscsi-inq were compared.
    expect(checked.get(0x2a)).toBeGreaterThanOrEqual(1);
    expect(checked.get(0x12)).toBeGreaterThanOrEqual(2);
    const write = commands.find((p) => parseScsiCommand(p.ours.bhs, p.ours.ahs).cdb[0] === 0x2a)!;
    expect(parseScsiCommand(write.ours.bhs, write.ours.ahs)).toMatchObject({ write: true, read: false, expectedDataTransferLength: WRITE_BYTES });
    expect(write.ours.data.length).toBeGreaterThan(0); // immediate data
  });

  it('Data-Out: LUN, ITT, TTT, ExpStatSN, DataSN, Buffer Offset, and the data itself', () => {
    const dataOut = ofOpcode(Op.DATA_OUT);
    expect(dataOut.length).toBeGreaterThanOrEqual(1);
    for (const { ours, theirs } of dataOut) {
      const at = `frame ${theirs.frame}`;
      const d = parseDataOut(ours.bhs);
      expect(d.lun, at).toBe(lunOf(theirs));
      expect(d.itt, at).toBe(num(theirs.iscsi, 'iscsi.initiatortasktag'));
      expect(d.ttt, at).toBe(num(theirs.iscsi, 'iscsi.targettransfertag'));
      expect(d.expStatSN, at).toBe(num(theirs.iscsi, 'iscsi.expstatsn'));
      expect(d.dataSN, at).toBe(num(theirs.iscsi, 'iscsi.datasn'));
      expect(d.bufferOffset, at).toBe(num(theirs.iscsi, 'iscsi.bufferOffset'));
      // The bytes at that offset of what qemu-img wrote.
      expect(ours.data.toBuffer().equals(written.subarray(d.bufferOffset, d.bufferOffset + ours.data.length)), at).toBe(true);
    }
  });

  it('Logout Requests and any NOP-Outs: reason, CID, CmdSN, ExpStatSN', () => {
    const logouts = ofOpcode(Op.LOGOUT_REQ);
    expect(logouts.length).toBe(2);
    for (const { ours, theirs } of logouts) {
      const at = `frame ${theirs.frame}`;
      const req = parseLogoutRequest(ours.bhs);
      expect(req.reason, at).toBe(num(theirs.iscsi, 'iscsi.logout.reason'));
      expect(req.cid, at).toBe(num(theirs.iscsi, 'iscsi.cid'));
      expect(req.cmdSN, at).toBe(num(theirs.iscsi, 'iscsi.cmdsn'));
      expect(req.expStatSN, at).toBe(num(theirs.iscsi, 'iscsi.expstatsn'));
    }
    for (const { ours, theirs } of ofOpcode(Op.NOP_OUT)) {
      const nop = parseNopOut(ours.bhs);
      expect(nop.ttt, `frame ${theirs.frame}`).toBe(num(theirs.iscsi, 'iscsi.targettransfertag'));
      expect(nop.cmdSN, `frame ${theirs.frame}`).toBe(num(theirs.iscsi, 'iscsi.cmdsn'));
    }
  });
});
