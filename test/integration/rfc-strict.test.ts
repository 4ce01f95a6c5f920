/**
 * RFC 7143 strictness for malformed or unusual PDUs in full feature phase (issue #9, items 18, 19,
 * 22, 23): one response per task, no task left hanging by an early F bit, reserved values
 * rejected, Text continuations carrying our TTT answered, Logout for another CID.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '../../src/iscsi/opcodes.js';
import { opcodeOf, type InPdu } from '../../src/iscsi/pdu.js';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import * as P from '../helpers/initiator-pdus.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const GOOD = 0x00;
const CHECK_CONDITION = 0x02;
const ABORTED_COMMAND = 0x0b;
const ORDERED = 2;
const RESERVED = 0xffffffff;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget();
});
afterAll(() => t?.stop());

async function login(keys: [string, string][]): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  const r = await i.login({ targetName: TEST_IQN, keys: [['MaxRecvDataSegmentLength', '262144'], ...keys] });
  expect(r.status).toEqual([0, 0]);
  await i.command({ cdb: testUnitReady() }); // the power-on unit attention
  return i;
}

const isStatus = (p: InPdu): boolean => opcodeOf(p.bhs) === Op.SCSI_RSP || (opcodeOf(p.bhs) === Op.DATA_IN && (p.bhs[1]! & 0x01) !== 0);
const isReject = (p: InPdu): boolean => opcodeOf(p.bhs) === Op.REJECT;
const rejectReason = (p: InPdu): number => p.bhs[2]!;
/** The BHS a Reject carries back. */
const rejectedItt = (p: InPdu): number => p.data.toBuffer().readUInt32BE(16);

function scsi(i: TestInitiator, f: { itt: number; cdb: Buffer; write?: boolean; read?: boolean; final?: boolean; edtl: number; immediateData?: Buffer; attr?: number }) {
  const { bhs, ahs } = P.scsiCommand({
    final: f.final ?? true,
    read: f.read ?? false,
    write: f.write ?? false,
    attr: f.attr,
    lun: 0,
    itt: f.itt,
    edtl: f.edtl,
    cmdSN: i.nextCmdSN(),
    expStatSN: i.expStatSN,
    cdb: f.cdb,
    dataLength: f.immediateData?.length ?? 0,
  });
  return P.concatPdu(bhs, ahs, f.immediateData);
}

function dataOut(i: TestInitiator, f: { itt: number; ttt: number; dataSN: number; offset: number; data: Buffer; final: boolean }): Buffer {
  return P.concatPdu(
    P.dataOut({ final: f.final, lun: 0, itt: f.itt, ttt: f.ttt, expStatSN: i.expStatSN, dataSN: f.dataSN, bufferOffset: f.offset, dataLength: f.data.length }),
    undefined,
    f.data,
  );
}

/** An ORDERED TEST UNIT READY: once it is answered, every older command on the LU has ended. */
async function barrier(i: TestInitiator): Promise<void> {
  const r = await i.command({ cdb: testUnitReady(), attr: ORDERED });
  expect(r.status).toBe(GOOD);
}

describe('one response per task (item 18)', () => {
  it('surplus unsolicited Data-Out for a WRITE that already runs gets a Reject, and the WRITE exactly one status', async () => {
    const i = await login([
      ['InitialR2T', 'No'],
      ['ImmediateData', 'No'],
    ]);
    const data = randomBytes(4096);
    const itt = i.allocItt();
    const answer = i.request(itt, () =>
      i.sendRaw(
        Buffer.concat([
          scsi(i, { itt, cdb: write10(300, 8), write: true, final: false, edtl: 4096 }),
          dataOut(i, { itt, ttt: RESERVED, dataSN: 0, offset: 0, data, final: true }),
          // The same data again: the command has all it needs and is executing.
          dataOut(i, { itt, ttt: RESERVED, dataSN: 1, offset: 0, data, final: true }),
        ]),
      ),
    );
    const rsp = await answer;
    expect(rsp.bhs[3]).toBe(GOOD);
    const reject = await i.waitFor((p) => isReject(p) && rejectedItt(p) === itt);
    expect(rejectReason(reject)).toBe(0x04);
    await barrier(i);
    expect(i.unsolicited.filter((p) => isStatus(p) && p.bhs.readUInt32BE(16) === itt)).toEqual([]);
    const back = await i.command({ cdb: read10(300, 8), read: 4096 });
    expect(back.data.equals(data)).toBe(true);
    i.close();
  });
});

describe('a Data-Out sequence cut short by the F bit ends the command (item 19)', () => {
  it('F before the R2T was satisfied: CHECK CONDITION, ABORTED COMMAND / DATA PHASE ERROR, and the session goes on', async () => {
    const i = await login([['InitialR2T', 'Yes'], ['ImmediateData', 'No']]);
    const itt = i.allocItt();
    const rsp = await i.request(
      itt,
      () => i.sendRaw(scsi(i, { itt, cdb: write10(400, 128), write: true, edtl: 65536 })),
      (p) => {
        if (opcodeOf(p.bhs) !== Op.R2T) return;
        // Half of what the R2T asks for, with F set.
        i.sendRaw(dataOut(i, { itt, ttt: p.bhs.readUInt32BE(20), dataSN: 0, offset: 0, data: randomBytes(16384), final: true }));
      },
    );
    expect(rsp.bhs[3]).toBe(CHECK_CONDITION);
    expect(senseOf(rsp)).toEqual([ABORTED_COMMAND, 0x4b, 0x00]);
    expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    i.close();
  });

  it('a zero-length final Data-Out answering an R2T ends the command too', async () => {
    const i = await login([['InitialR2T', 'Yes'], ['ImmediateData', 'No']]);
    const itt = i.allocItt();
    const rsp = await i.request(
      itt,
      () => i.sendRaw(scsi(i, { itt, cdb: write10(500, 8), write: true, edtl: 4096 })),
      (p) => {
        if (opcodeOf(p.bhs) === Op.R2T) i.sendRaw(dataOut(i, { itt, ttt: p.bhs.readUInt32BE(20), dataSN: 0, offset: 0, data: Buffer.alloc(0), final: true }));
      },
    );
    expect(rsp.bhs[3]).toBe(CHECK_CONDITION);
    expect(senseOf(rsp)).toEqual([ABORTED_COMMAND, 0x4b, 0x00]);
    i.close();
  });

  it('an unsolicited burst ended by F before min(FirstBurstLength, EDTL): NOT ENOUGH UNSOLICITED DATA, no R2T', async () => {
    const i = await login([['InitialR2T', 'No'], ['ImmediateData', 'Yes'], ['FirstBurstLength', '65536']]);
    const itt = i.allocItt();
    const r2ts: InPdu[] = [];
    const rsp = await i.request(
      itt,
      () =>
        i.sendRaw(
          Buffer.concat([
            scsi(i, { itt, cdb: write10(600, 128), write: true, final: false, edtl: 65536, immediateData: randomBytes(8192) }),
            dataOut(i, { itt, ttt: RESERVED, dataSN: 0, offset: 8192, data: randomBytes(8192), final: true }),
          ]),
        ),
      (p) => r2ts.push(p),
    );
    expect(rsp.bhs[3]).toBe(CHECK_CONDITION);
    expect(senseOf(rsp)).toEqual([ABORTED_COMMAND, 0x0c, 0x0d]);
    expect(r2ts.filter((p) => opcodeOf(p.bhs) === Op.R2T)).toEqual([]);
    i.close();
  });
});

describe('reserved values (item 22)', () => {
  it('a SCSI command with ITT 0xffffffff is rejected (Invalid PDU field) and never executed', async () => {
    const i = await login([['ImmediateData', 'Yes'], ['InitialR2T', 'Yes']]);
    const data = randomBytes(4096);
    const cmdSN = i.cmdSN;
    i.sendRaw(scsi(i, { itt: RESERVED, cdb: write10(700, 8), write: true, edtl: 4096, immediateData: data }));
    const reject = await i.waitFor(isReject);
    expect(rejectReason(reject)).toBe(0x09);
    // A rejected command's CmdSN is not received (RFC 7143 §7.2): the initiator sends its next with it.
    i.cmdSN = cmdSN;
    const back = await i.command({ cdb: read10(700, 8), read: 4096 });
    expect(back.data.equals(Buffer.alloc(4096))).toBe(true);
    i.close();
  });

  it('a Text Request with ITT 0xffffffff is rejected', async () => {
    const i = await login([]);
    const text = Buffer.from('SendTargets=All\0');
    const cmdSN = i.cmdSN;
    i.sendRaw(P.concatPdu(P.textRequest({ immediate: false, final: true, itt: RESERVED, ttt: RESERVED, cmdSN, expStatSN: i.expStatSN, dataLength: text.length }), undefined, text));
    expect(rejectReason(await i.waitFor(isReject))).toBe(0x09);
    expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    i.close();
  });

  it('Logout with a reserved reason code (3 and above) is rejected and the session stays', async () => {
    const i = await login([]);
    for (const reason of [3, 0x7f]) {
      const itt = i.allocItt();
      i.sendRaw(P.logoutRequest({ immediate: true, reason, itt, cid: 0, cmdSN: i.cmdSN, expStatSN: i.expStatSN }));
      const reject = await i.waitFor(isReject);
      expect(rejectReason(reject)).toBe(0x09);
      expect(rejectedItt(reject)).toBe(itt);
    }
    expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    expect(i.closed).toBe(false);
    i.close();
  });

  it('a Text Request continued with the C bit is completed by the PDU that carries our TTT', async () => {
    const d = await TestInitiator.connect(t.port);
    expect((await d.login({ sessionType: 'Discovery' })).status).toEqual([0, 0]);
    const itt = d.allocItt();
    const first = Buffer.from('SendTarg');
    const ack = await d.request(itt, () =>
      d.sendRaw(
        P.concatPdu(
          withCont(P.textRequest({ immediate: false, final: false, itt, ttt: RESERVED, cmdSN: d.nextCmdSN(), expStatSN: d.expStatSN, dataLength: first.length })),
          undefined,
          first,
        ),
      ),
    );
    expect(ack.data.length).toBe(0);
    expect(ack.bhs[1]! & 0x80).toBe(0); // not final: the target waits for the rest
    const ttt = ack.bhs.readUInt32BE(20);
    expect(ttt).not.toBe(RESERVED);
    const rest = Buffer.from('ets=All\0');
    const answer = await d.request(itt, () =>
      d.sendRaw(P.concatPdu(P.textRequest({ immediate: false, final: true, itt, ttt, cmdSN: d.nextCmdSN(), expStatSN: d.expStatSN, dataLength: rest.length }), undefined, rest)),
    );
    expect(answer.bhs[1]! & 0x80).toBe(0x80);
    expect(answer.data.toBuffer().toString()).toContain(`TargetName=${TEST_IQN}`);
    d.close();
  });
});

describe('Logout naming another connection (item 23)', () => {
  it('reason 1 or 2 with a CID that is not ours: "CID not found", and the session stays', async () => {
    const i = await login([]);
    for (const reason of [1, 2]) {
      const itt = i.allocItt();
      const rsp = await i.request(itt, () => i.sendRaw(P.logoutRequest({ immediate: true, reason, itt, cid: 7, cmdSN: i.cmdSN, expStatSN: i.expStatSN })));
      expect(opcodeOf(rsp.bhs)).toBe(Op.LOGOUT_RSP);
      expect(rsp.bhs[2]).toBe(1);
    }
    expect((await i.command({ cdb: testUnitReady() })).status).toBe(GOOD);
    // Our own CID for recovery: not supported at ErrorRecoveryLevel 0.
    const itt = i.allocItt();
    const rsp = await i.request(itt, () => i.sendRaw(P.logoutRequest({ immediate: true, reason: 2, itt, cid: 0, cmdSN: i.cmdSN, expStatSN: i.expStatSN })));
    expect(rsp.bhs[2]).toBe(2);
    // And reason 1 with our CID closes it.
    expect(await i.logout(1)).toBe(0);
    await i.waitClosed();
  });
});

function senseOf(rsp: InPdu): [number, number, number] | undefined {
  const d = rsp.data.toBuffer();
  return senseCodes(d.subarray(2, 2 + d.readUInt16BE(0)));
}

function withCont(bhs: Buffer): Buffer {
  bhs[1] = bhs[1]! | 0x40;
  return bhs;
}

describe('answers within what the initiator can take (found by the fuzzer)', () => {
  it('a NOP-In echoes at most the initiator\'s MaxRecvDataSegmentLength of the ping data', async () => {
    const i = await TestInitiator.connect(t.port);
    expect((await i.login({ targetName: TEST_IQN, keys: [['MaxRecvDataSegmentLength', '1024']] })).status).toEqual([0, 0]);
    const ping = randomBytes(32768);
    const answer = await i.nop(ping);
    expect(answer.data.length).toBe(1024);
    expect(answer.data.toBuffer().equals(ping.subarray(0, 1024))).toBe(true);
    i.close();
  });

  it('a Login Request with more than 8192 bytes of data gets a Login Response (initiator error), not a Reject', async () => {
    const i = await TestInitiator.connect(t.port);
    const text = Buffer.from(`InitiatorName=iqn.2026-11.io.scatter.test:big\0TargetName=${TEST_IQN}\0X-pad=${'a'.repeat(9000)}\0`);
    const rsp = await i.request(1, () =>
      i.sendRaw(P.concatPdu(P.loginRequest({ transit: true, csg: 0, nsg: 1, isid: i.isid, tsih: 0, itt: 1, cid: 0, cmdSN: 1, expStatSN: 0, dataLength: text.length }), undefined, text)),
    );
    expect(opcodeOf(rsp.bhs)).toBe(Op.LOGIN_RSP);
    expect([rsp.bhs[36], rsp.bhs[37]]).toEqual([0x02, 0x00]);
    await i.waitClosed();
    expect(i.unsolicited.filter(isReject)).toEqual([]);
  });

  it('a refusal of a Login Request naming CSG 3 answers in the security stage, never with CSG 3', async () => {
    const i = await TestInitiator.connect(t.port);
    const text = Buffer.from(`InitiatorName=iqn.2026-11.io.scatter.test:csg\0TargetName=${TEST_IQN}\0`);
    const rsp = await i.request(1, () =>
      i.sendRaw(P.concatPdu(P.loginRequest({ transit: false, csg: 3, nsg: 0, isid: i.isid, tsih: 0, itt: 1, cid: 0, cmdSN: 1, expStatSN: 0, dataLength: text.length }), undefined, text)),
    );
    expect([rsp.bhs[36], rsp.bhs[37]]).toEqual([0x02, 0x00]);
    expect((rsp.bhs[1]! >> 2) & 3).toBe(0);
    await i.waitClosed();
  });
});

