/**
 * The login phase over a FakeConnection: a full login through mutual CHAP into full feature phase
 * (stages, StatSN numbering, the target's own CHAP answer, the hand-over to the session), and a
 * discovery login whose connection then carries a real Session answering SendTargets.
 */
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { SgVector } from '../../../src/block/sg.js';
import { AuthThrottle } from '../../../src/iscsi/auth-throttle.js';
import { ByteBudget } from '../../../src/iscsi/byte-budget.js';
import { ChallengeCache } from '../../../src/iscsi/chap.js';
import { LoginFailureCounts } from '../../../src/iscsi/login-failure.js';
import { LoginHandler, type LoginContext, type LoginOutcome } from '../../../src/iscsi/login.js';
import { defaultTargetNegotiationConfig } from '../../../src/iscsi/negotiation.js';
import { Op } from '../../../src/iscsi/opcodes.js';
import type { InPdu } from '../../../src/iscsi/pdu.js';
import { Session } from '../../../src/iscsi/session.js';
import { TargetRegistry } from '../../../src/iscsi/target.js';
import { encodeTextPairs, parseTextData } from '../../../src/iscsi/text.js';
import type { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { loginRequest, textRequest } from '../../helpers/initiator-pdus.js';
import { FakeConnection, type SentPdu } from './fake-connection.js';

const TARGET = 'iqn.2026-11.io.scatter:unit-login';
const INITIATOR = 'iqn.2026-11.io.scatter.test:unit-login';
const CHAP = { initiator: { user: 'in-user', secret: 'in-secret-0123456' }, mutual: { user: 'tgt-user', secret: 'tgt-secret-654321' } };
const ISID = Buffer.from([0x80, 0, 0, 7, 0, 1]);
const EXP_STAT_SN = 1000;

let conn: FakeConnection;
let attached: LoginOutcome[];
let targets: TargetRegistry;

function context(attach: LoginContext['attach']): LoginContext {
  return {
    targets,
    negotiation: defaultTargetNegotiationConfig,
    challengeCache: new ChallengeCache(),
    loginTimeoutMs: 15_000,
    authThrottle: new AuthThrottle(),
    failures: new LoginFailureCounts(),
    attach,
  };
}

beforeEach(() => {
  conn = new FakeConnection();
  attached = [];
  targets = new TargetRegistry();
  targets.add({ iqn: TARGET, portalGroupTag: 3, portals: [{ host: '192.0.2.1', port: 3260 }], chap: CHAP, scsi: {} as ScsiTargetCore });
});

function request(f: { transit: boolean; csg: number; nsg: number }, pairs: [string, string][]): InPdu {
  const data = encodeTextPairs(pairs);
  const bhs = loginRequest({ ...f, isid: ISID, tsih: 0, itt: 5, cid: 1, cmdSN: 42, expStatSN: EXP_STAT_SN, dataLength: data.length });
  return { bhs, ahs: Buffer.alloc(0), data: new SgVector([data]) };
}

/** Send one Login Request; the answer it got, with its text. */
function step(handler: LoginHandler, f: { transit: boolean; csg: number; nsg: number }, pairs: [string, string][]): { pdu: SentPdu; keys: Map<string, string> } {
  const before = conn.sent.length;
  handler.handlePdu(request(f, pairs));
  expect(conn.sent.length).toBe(before + 1);
  const pdu = conn.sent[before]!;
  expect(pdu.opcode).toBe(Op.LOGIN_RSP);
  return { pdu, keys: new Map(parseTextData(pdu.data).pairs) };
}

const statusOf = (p: SentPdu): [number, number] => [p.bhs[36]!, p.bhs[37]!];
const stagesOf = (p: SentPdu): { transit: boolean; csg: number; nsg: number } => ({
  transit: (p.bhs[1]! & 0x80) !== 0,
  csg: (p.bhs[1]! >> 2) & 3,
  nsg: p.bhs[1]! & 3,
});
const chapResponse = (id: number, secret: string, challenge: Buffer): Buffer =>
  createHash('sha256').update(Buffer.of(id)).update(secret).update(challenge).digest();

describe('LoginHandler over a fake connection', () => {
  it('logs in through mutual CHAP into full feature phase and hands the connection to the session', () => {
    const session = { handlePdu: () => undefined, onConnectionClosed: () => undefined };
    const handler = new LoginHandler(
      conn,
      context((outcome) => {
        attached.push(outcome);
        return { tsih: 77, expCmdSN: 42, maxCmdSN: 73, handler: session };
      }),
      pino({ level: 'silent' }),
    );
    conn.setHandler(handler);

    const first = step(handler, { transit: false, csg: 0, nsg: 1 }, [
      ['InitiatorName', INITIATOR],
      ['SessionType', 'Normal'],
      ['TargetName', TARGET],
      ['AuthMethod', 'CHAP'],
    ]);
    expect(statusOf(first.pdu)).toEqual([0, 0]);
    expect(first.keys.get('AuthMethod')).toBe('CHAP');
    expect(first.keys.get('TargetPortalGroupTag')).toBe('3');
    expect(first.pdu.bhs.readUInt32BE(24)).toBe(EXP_STAT_SN); // StatSN counts from the initiator's ExpStatSN

    const offer = step(handler, { transit: false, csg: 0, nsg: 1 }, [['CHAP_A', '7']]);
    expect(offer.keys.get('CHAP_A')).toBe('7');
    const id = Number(offer.keys.get('CHAP_I'));
    const challenge = Buffer.from(offer.keys.get('CHAP_C')!.slice(2), 'hex');

    // Our answer, and our own challenge for the target (mutual CHAP).
    const myChallenge = randomBytes(32);
    const proven = step(handler, { transit: true, csg: 0, nsg: 1 }, [
      ['CHAP_N', CHAP.initiator.user],
      ['CHAP_R', `0x${chapResponse(id, CHAP.initiator.secret, challenge).toString('hex')}`],
      ['CHAP_I', '9'],
      ['CHAP_C', `0x${myChallenge.toString('hex')}`],
    ]);
    expect(statusOf(proven.pdu)).toEqual([0, 0]);
    expect(stagesOf(proven.pdu)).toEqual({ transit: true, csg: 0, nsg: 1 });
    expect(proven.keys.get('CHAP_N')).toBe(CHAP.mutual.user);
    expect(proven.keys.get('CHAP_R')).toBe(`0x${chapResponse(9, CHAP.mutual.secret, myChallenge).toString('hex')}`);
    expect(attached).toEqual([]);

    const last = step(handler, { transit: true, csg: 1, nsg: 3 }, [
      ['HeaderDigest', 'CRC32C'],
      ['DataDigest', 'None'],
      ['MaxRecvDataSegmentLength', '65536'],
    ]);
    expect(statusOf(last.pdu)).toEqual([0, 0]);
    expect(stagesOf(last.pdu)).toEqual({ transit: true, csg: 1, nsg: 3 });
    expect(last.keys.get('HeaderDigest')).toBe('CRC32C');
    expect(last.pdu.bhs.readUInt16BE(14)).toBe(77); // the session's TSIH
    expect([last.pdu.bhs.readUInt32BE(28), last.pdu.bhs.readUInt32BE(32)]).toEqual([42, 73]);
    expect(last.pdu.bhs.readUInt32BE(24)).toBe(EXP_STAT_SN + 3);

    expect(attached).toHaveLength(1);
    expect(attached[0]).toMatchObject({ initiatorName: INITIATOR, cid: 1, sessionType: 'Normal', cmdSN: 42, requestedTsih: 0 });
    expect(attached[0]!.target?.iqn).toBe(TARGET);
    expect(conn.handler).toBe(session);
    expect(conn.fullFeature).toEqual({ digests: { headerDigest: true, dataDigest: false }, maxRecvDataSegmentLength: 262144 });
    // Full feature phase goes on from the next StatSN.
    expect(conn.takeStatSN()).toBe(EXP_STAT_SN + 4);
    expect(conn.isClosed).toBe(false);
  });

  it('refuses an operational stage before the required CHAP, with 0201 and a closed connection', () => {
    const handler = new LoginHandler(conn, context(() => ({ tsih: 1, expCmdSN: 1, maxCmdSN: 1, handler: { handlePdu() {}, onConnectionClosed() {} } })), pino({ level: 'silent' }));
    const r = step(handler, { transit: true, csg: 1, nsg: 3 }, [
      ['InitiatorName', INITIATOR],
      ['SessionType', 'Normal'],
      ['TargetName', TARGET],
    ]);
    expect(statusOf(r.pdu)).toEqual([0x02, 0x01]);
    expect(conn.closedWith).toMatch(/login failed/);
    expect(attached).toEqual([]);
  });

  it('a discovery login hands the connection to a real session, which answers SendTargets', () => {
    const writeBudget = new ByteBudget(1 << 20);
    const handler = new LoginHandler(
      conn,
      context((outcome) => {
        const s = new Session(5, outcome, conn, {
          log: pino({ level: 'silent' }),
          sendTargets: (value) => (value === 'All' ? [['TargetName', TARGET], ['TargetAddress', '192.0.2.1:3260,3']] : []),
          onClosed: () => undefined,
          sessionsOf: () => [],
          maxCmdWindow: 8,
          nexusIds: { next: () => 1 },
          writeBudget,
          readBudget: writeBudget,
          maxImmediateCommands: 4,
          dataOutTimeoutMs: 1000,
        });
        return { tsih: 5, expCmdSN: s.window.expCmdSN, maxCmdSN: s.window.maxCmdSN, handler: s };
      }),
      pino({ level: 'silent' }),
    );
    conn.setHandler(handler);
    const done = step(handler, { transit: true, csg: 1, nsg: 3 }, [
      ['InitiatorName', INITIATOR],
      ['SessionType', 'Discovery'],
    ]);
    expect(statusOf(done.pdu)).toEqual([0, 0]);
    expect(conn.handler).toBeInstanceOf(Session);
    const data = encodeTextPairs([['SendTargets', 'All']]);
    conn.receive(textRequest({ immediate: true, final: true, itt: 8, ttt: 0xffffffff, cmdSN: 42, expStatSN: 0, dataLength: data.length }), data);
    const answer = conn.sentOf(Op.TEXT_RSP).at(-1)!;
    expect(parseTextData(answer.data).pairs).toEqual([
      ['TargetName', TARGET],
      ['TargetAddress', '192.0.2.1:3260,3'],
    ]);
    expect(answer.bhs.readUInt32BE(24)).toBe(EXP_STAT_SN + 1);
  });
});
