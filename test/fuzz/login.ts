/**
 * A correct login for the fuzz sessions (the full feature phase is what most generators fuzz):
 * security stage with AuthMethod None or CHAP (one-way or mutual), then the operational stage
 * with a random but valid negotiation. The login generator (generators/login.ts) is where
 * the login itself is fuzzed.
 */
import { createHash } from 'node:crypto';
import type { Rng } from './rng.js';
import type { FuzzSession } from './session.js';
import { Opcode, ittOf, loginBhs, opOf, parseText, textData } from './wire.js';

export interface ChapCredentials {
  user: string;
  secret: string;
  mutual?: { user: string; secret: string };
}

export interface Negotiation {
  headerDigest: boolean;
  dataDigest: boolean;
  /** Our MaxRecvDataSegmentLength: every target PDU must fit in it. */
  maxRecv: number;
  immediateData: boolean;
  initialR2T: boolean;
  firstBurst: number;
  maxBurst: number;
  maxOutR2T: number;
}

export interface LoginPlan {
  sessionType: 'Normal' | 'Discovery';
  targetName?: string;
  initiatorName: string;
  chap?: ChapCredentials & { algorithms: number[]; askMutual: boolean };
  neg: Negotiation;
}

const HASH: Record<number, string> = { 5: 'md5', 6: 'sha1', 7: 'sha256', 8: 'sha3-256' };

export function chapResponse(alg: number, id: number, secret: string, challenge: Buffer): Buffer {
  return createHash(HASH[alg] ?? 'md5')
    .update(Buffer.from([id & 0xff]))
    .update(secret)
    .update(challenge)
    .digest();
}

export function decodeChapBinary(v: string): Buffer | undefined {
  if (/^0x[0-9a-f]*$/i.test(v)) return Buffer.from(v.slice(2), 'hex');
  if (/^0b/i.test(v)) return Buffer.from(v.slice(2), 'base64');
  return undefined;
}

/** A random negotiation an honest initiator could offer (RFC 7143 §13 ranges). */
export function randomNegotiation(r: Rng): Negotiation {
  const maxBurst = r.pick([512, 4096, 65536, 262144, 1048576, r.int(512, 16777215)]);
  return {
    headerDigest: r.bool(0.3),
    dataDigest: r.bool(0.3),
    maxRecv: r.pick([512, 1024, 4096, 8192, 65536, 262144, r.int(512, 16777215)]),
    immediateData: r.bool(0.7),
    initialR2T: r.bool(0.4),
    firstBurst: Math.min(maxBurst, r.pick([512, 4096, 65536, 262144, r.int(512, 16777215)])),
    maxBurst,
    maxOutR2T: r.pick([1, 1, 2, 4, 8, 64, r.int(1, 65535)]),
  };
}

export interface StepResult {
  status: number;
  transit: boolean;
  nsg: number;
  keys: Map<string, string>;
}

/**
 * One request of the login conversation and its response, following a response split with
 * the C bit (RFC 7143 §11.13). undefined when the connection closed or nothing came.
 */
export async function loginStep(
  s: FuzzSession,
  itt: number,
  f: { transit: boolean; csg: number; nsg: number },
  pairs: [string, string][],
): Promise<StepResult | undefined> {
  const keys = new Map<string, string>();
  let data = textData(pairs);
  let transit = f.transit;
  for (let round = 0; round < 16; round++) {
    const since = s.mark();
    s.send(
      loginBhs({ ...f, transit, cont: false, versionMax: 0, versionMin: 0, isid: s.isid, tsih: s.tsih, itt, cid: s.cid, cmdSN: s.cmdSN, expStatSN: s.expStatSN, dataLength: data.length }),
      { data },
    );
    const rsp = await s.waitPdu((p) => opOf(p.bhs) === Opcode.LOGIN_RSP && ittOf(p.bhs) === itt, s.answerMs, since);
    if (!rsp) return undefined;
    for (const [k, v] of parseText(rsp.data)) keys.set(k, v);
    const b1 = rsp.bhs[1]!;
    const status = (rsp.bhs[36]! << 8) | rsp.bhs[37]!;
    if ((b1 & 0x40) === 0 || status !== 0) {
      if ((b1 & 0x80) !== 0 && status === 0) s.tsih = rsp.bhs.readUInt16BE(14);
      return { status, transit: (b1 & 0x80) !== 0, nsg: b1 & 3, keys };
    }
    // The target continues its text: ask for the rest with an empty request.
    data = Buffer.alloc(0);
    transit = false;
  }
  return undefined;
}

/** Log `s` in as `plan` says; a refused honest login is reported (kind 'login'). */
export async function login(s: FuzzSession, plan: LoginPlan): Promise<boolean> {
  const itt = s.allocItt();
  const refused = (why: string): false => {
    if (!s.closed || why !== 'closed') s.fail('login', `an honest login was refused: ${why}`);
    return false;
  };
  const first: [string, string][] = [
    ['InitiatorName', plan.initiatorName],
    ['SessionType', plan.sessionType],
  ];
  if (plan.targetName) first.push(['TargetName', plan.targetName]);
  first.push(['AuthMethod', plan.chap ? 'CHAP' : 'None']);
  let r = await loginStep(s, itt, { transit: !plan.chap, csg: 0, nsg: 1 }, first);
  if (!r) return refused('no answer to the first Login Request');
  if (r.status !== 0) return refused(`status ${r.status.toString(16).padStart(4, '0')} after the first request`);
  if (plan.chap) {
    r = await loginStep(s, itt, { transit: false, csg: 0, nsg: 1 }, [['CHAP_A', plan.chap.algorithms.join(',')]]);
    if (!r || r.status !== 0) return refused(`CHAP_A answered ${r?.status.toString(16) ?? 'nothing'}`);
    const alg = Number(r.keys.get('CHAP_A'));
    const id = Number(r.keys.get('CHAP_I'));
    const challenge = decodeChapBinary(r.keys.get('CHAP_C') ?? '');
    if (!challenge || !Number.isInteger(id)) return refused(`no usable CHAP challenge: ${[...r.keys].join(' ')}`);
    const answer: [string, string][] = [
      ['CHAP_N', plan.chap.user],
      ['CHAP_R', `0x${chapResponse(alg, id, plan.chap.secret, challenge).toString('hex')}`],
    ];
    const myId = id ^ 0x5a;
    const myChallenge = Buffer.from(`fuzz-${s.isid.toString('hex')}-challenge`);
    if (plan.chap.askMutual && plan.chap.mutual) answer.push(['CHAP_I', String(myId)], ['CHAP_C', `0x${myChallenge.toString('hex')}`]);
    r = await loginStep(s, itt, { transit: true, csg: 0, nsg: 1 }, answer);
    if (!r || r.status !== 0) return refused(`CHAP_R answered ${r?.status.toString(16) ?? 'nothing'}`);
    if (plan.chap.askMutual && plan.chap.mutual) {
      const want = chapResponse(alg, myId, plan.chap.mutual.secret, myChallenge);
      const got = decodeChapBinary(r.keys.get('CHAP_R') ?? '');
      if (r.keys.get('CHAP_N') !== plan.chap.mutual.user || !got || !got.equals(want)) s.fail('auth', 'the target answered mutual CHAP wrongly');
    }
  }
  const n = plan.neg;
  const ops: [string, string][] = [
    ['HeaderDigest', n.headerDigest ? 'CRC32C,None' : 'None'],
    ['DataDigest', n.dataDigest ? 'CRC32C,None' : 'None'],
    ['MaxRecvDataSegmentLength', String(n.maxRecv)],
  ];
  if (plan.sessionType === 'Normal') {
    ops.push(
      ['ImmediateData', n.immediateData ? 'Yes' : 'No'],
      ['InitialR2T', n.initialR2T ? 'Yes' : 'No'],
      ['MaxBurstLength', String(n.maxBurst)],
      ['FirstBurstLength', String(n.firstBurst)],
      ['MaxOutstandingR2T', String(n.maxOutR2T)],
    );
  }
  const all = new Map<string, string>();
  r = await loginStep(s, itt, { transit: true, csg: 1, nsg: 3 }, ops);
  for (let i = 0; r && r.status === 0 && !(r.transit && r.nsg === 3) && i < 4; i++) {
    r.keys.forEach((v, k) => all.set(k, v));
    r = await loginStep(s, itt, { transit: true, csg: 1, nsg: 3 }, []);
  }
  if (!r) return refused('no answer in the operational stage');
  if (r.status !== 0) return refused(`status ${r.status.toString(16).padStart(4, '0')} in the operational stage`);
  r.keys.forEach((v, k) => all.set(k, v));
  const num = (k: string, d: number): number => (all.has(k) ? Number(all.get(k)) : d);
  const yes = (k: string, d: boolean): boolean => (all.has(k) ? all.get(k) === 'Yes' : d);
  s.params = {
    immediateData: yes('ImmediateData', true),
    initialR2T: yes('InitialR2T', true),
    firstBurst: num('FirstBurstLength', 65536),
    maxBurst: num('MaxBurstLength', 262144),
    maxOutR2T: num('MaxOutstandingR2T', 1),
  };
  // Phase, digests and both MaxRecvDataSegmentLengths switched when the final response arrived.
  return s.phase === 'ffp' || refused('the final Login Response did not enter full feature phase');
}
