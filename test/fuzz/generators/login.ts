/**
 * Login Requests (RFC 7143 §6, §11.12): every T / C / CSG / NSG combination, versions, text
 * split mid-key across PDUs with the C bit, missing / invalid / unknown names, malformed and
 * oversized text, CHAP keys out of order, wrong or reflected, ISID / TSIH / CID changes, other
 * PDUs during login.
 *
 * What must hold whatever is sent: no successful response leaves the security stage of a CHAP
 * target before a correct CHAP_R, no login to an unknown target succeeds, a request with T=1
 * and C=1 or with CSG=3 fails with status class 2, and a failed login is followed by the
 * target closing the connection. Every response fits in 8192 bytes (checked by the session).
 */
import type { Rng } from '../rng.js';
import type { FuzzSession } from '../session.js';
import { chapResponse, decodeChapBinary } from '../login.js';
import { NO_TAG, Opcode, ittOf, loginBhs, nopOutBhs, opOf, parseText, textData, type RxPdu } from '../wire.js';
import type { GenContext, Generator } from './types.js';

interface LoginRequest {
  transit: boolean;
  cont: boolean;
  csg: number;
  nsg: number;
  text: Buffer;
  versionMax?: number;
  versionMin?: number;
  isid?: Buffer;
  tsih?: number;
  cid?: number;
  itt?: number;
}

interface Watch {
  chapTarget: boolean;
  unknownTarget: boolean;
  /** A correct CHAP_N / CHAP_R has been sent for the challenge in force. */
  chapProven: boolean;
  challenge?: { alg: number; id: number; c: Buffer };
}

function splitText(r: Rng, text: Buffer, pieces: number): Buffer[] {
  if (text.length < 2 || pieces < 2) return [text];
  const cuts = new Set<number>();
  while (cuts.size < Math.min(pieces - 1, text.length - 1)) cuts.add(r.int(1, text.length - 1));
  const at = [0, ...[...cuts].sort((a, b) => a - b), text.length];
  return at.slice(1).map((end, i) => text.subarray(at[i]!, end));
}

/** Send one Login Request and wait for its response (undefined: nothing came, or the connection closed). */
async function step(s: FuzzSession, w: Watch, q: LoginRequest, note: string): Promise<RxPdu | undefined> {
  const itt = q.itt ?? 1;
  const since = s.mark();
  s.send(
    loginBhs({
      transit: q.transit,
      cont: q.cont,
      csg: q.csg,
      nsg: q.nsg,
      versionMax: q.versionMax ?? 0,
      versionMin: q.versionMin ?? 0,
      isid: q.isid ?? s.isid,
      tsih: q.tsih ?? 0,
      itt,
      cid: q.cid ?? s.cid,
      cmdSN: 1,
      expStatSN: s.expStatSN,
      dataLength: q.text.length,
    }),
    { data: q.text, note },
  );
  const p = await s.waitPdu((x) => opOf(x.bhs) === Opcode.LOGIN_RSP && ittOf(x.bhs) === itt, s.answerMs, since);
  if (p) judge(s, w, p);
  return p;
}

/** The oracles every response is held to. */
function judge(s: FuzzSession, w: Watch, p: RxPdu): void {
  const b1 = p.bhs[1]!;
  const transit = (b1 & 0x80) !== 0;
  const csg = (b1 >> 2) & 3;
  const ok = p.bhs[36] === 0;
  const keys = new Map(parseText(p.data));
  // Leaving the security stage: a transit, or answering keys in the operational stage (CSG 3 is item 20's,
  // not a stage). An empty T=0 answer only acknowledges a request continued with the C bit: nothing
  // has been agreed, and the request is judged once its text is complete.
  if (w.chapTarget && ok && !w.chapProven && (transit || (csg === 1 && p.data.length > 0))) {
    s.fail('auth', `a CHAP target let the login leave the security stage (T=${+transit} CSG=${csg} NSG=${b1 & 3}) without a correct CHAP response`);
  }
  if (w.unknownTarget && ok && (transit || keys.has('TargetPortalGroupTag'))) {
    s.fail('auth', `a login to an unknown TargetName was accepted (T=${+transit} CSG=${csg}, keys ${[...keys.keys()].join(',')})`);
  }
  const alg = Number(keys.get('CHAP_A'));
  const id = Number(keys.get('CHAP_I'));
  const c = decodeChapBinary(keys.get('CHAP_C') ?? '');
  if (keys.has('CHAP_C') && c && Number.isInteger(id)) {
    w.challenge = { alg: Number.isInteger(alg) ? alg : (w.challenge?.alg ?? 5), id, c };
    w.chapProven = false;
  }
}

/** A failed login ends with the target closing the connection (RFC 7143 §11.13.5). */
async function expectClosedAfterFailure(s: FuzzSession, p: RxPdu | undefined): Promise<void> {
  if (!p || p.bhs[36] === 0 || s.closed) return;
  if (!(await s.waitClosed(s.answerMs))) s.fail('rfc', `the target left the connection open after login status ${p.bhs[36]!.toString(16).padStart(2, '0')}${p.bhs[37]!.toString(16).padStart(2, '0')}`);
}

function statusOf(p: RxPdu): string {
  return `${p.bhs[36]!.toString(16).padStart(2, '0')}${p.bhs[37]!.toString(16).padStart(2, '0')}`;
}

interface Setup {
  s: FuzzSession;
  w: Watch;
  targetName: string;
  kind: 'plain' | 'chap' | 'unknown';
}

async function setup(g: GenContext): Promise<Setup> {
  const kind = g.r.weighted<'plain' | 'chap' | 'unknown'>([
    [3, 'plain'],
    [4, 'chap'],
    [2, 'unknown'],
  ]);
  const s = await g.connect();
  const targetName = kind === 'plain' ? g.slot.plain : kind === 'chap' ? g.slot.chap : g.slot.unknown;
  return { s, targetName, kind, w: { chapTarget: kind === 'chap', unknownTarget: kind === 'unknown', chapProven: false } };
}

function firstKeys(g: GenContext, targetName: string, auth: string): [string, string][] {
  return [
    ['InitiatorName', g.initiatorName],
    ['SessionType', 'Normal'],
    ['TargetName', targetName],
    ['AuthMethod', auth],
  ];
}

/** The first request's text split mid-key over C=1 PDUs (item 1 of issue 9: identify once complete). */
const continued: Generator = {
  name: 'login-continued-first',
  pdu: 'Login Request',
  async run(g) {
    const r = g.r;
    const { s, w, targetName, kind } = await setup(g);
    const auth = r.pick(['None', 'CHAP,None', 'None,CHAP', 'CHAP']);
    const text = textData([...firstKeys(g, targetName, auth), ...(r.bool(0.3) ? [['HeaderDigest', 'None'] as [string, string]] : [])]);
    const parts = splitText(r, text, r.int(2, 4));
    const transit = r.bool(0.7);
    const nsg = r.pick([1, 1, 3]);
    let last: RxPdu | undefined;
    for (let i = 0; i < parts.length && !s.closed; i++) {
      const final = i === parts.length - 1;
      last = await step(s, w, { transit: final && transit, cont: !final, csg: 0, nsg, text: parts[i]! }, `part ${i + 1}/${parts.length} of the first request`);
      if (!last || last.bhs[36] !== 0) break;
    }
    if (!last) return;
    // Now the text is complete: the outcome must be what a single PDU would have given.
    const st = statusOf(last);
    if (kind === 'unknown' && st !== '0203') s.fail('rfc', `a login for an unknown target, its first request continued over ${parts.length} PDUs, ended ${st} instead of 0203 (Target Not Found)`);
    if (kind === 'chap' && !auth.includes('CHAP') && st !== '0201') s.fail('rfc', `a CHAP target offered AuthMethod=${auth} in a continued first request answered ${st} instead of 0201`);
    await expectClosedAfterFailure(s, last);
  },
};

/** Every T / C / CSG / NSG combination on the first request, and on a second one. */
const flags: Generator = {
  name: 'login-flags',
  pdu: 'Login Request',
  async run(g) {
    const r = g.r;
    const { s, w, targetName } = await setup(g);
    const transit = r.bool();
    const cont = r.bool(0.3);
    const csg = r.int(0, 3);
    const nsg = r.int(0, 3);
    const text = textData(firstKeys(g, targetName, r.pick(['None', 'CHAP,None', 'CHAP'])));
    const p = await step(s, w, { transit, cont, csg, nsg, text }, `T=${+transit} C=${+cont} CSG=${csg} NSG=${nsg}`);
    if (!p) return;
    // RFC 7143 §11.12.2: T and C together are a protocol error; CSG 3 is not a stage a request may be in.
    if (transit && cont && p.bhs[36] !== 2) s.fail('rfc', `a Login Request with T=1 and C=1 answered ${statusOf(p)} instead of an initiator error (02xx)`);
    if (csg === 3 && p.bhs[36] !== 2) s.fail('rfc', `a Login Request with CSG=3 answered ${statusOf(p)} instead of an initiator error (02xx)`);
    if (p.bhs[36] === 0 && !s.closed && r.bool()) {
      const t2 = r.bool();
      const c2 = r.bool(0.3);
      const csg2 = r.int(0, 3);
      const nsg2 = r.int(0, 3);
      const q = await step(s, w, { transit: t2, cont: c2, csg: csg2, nsg: nsg2, text: textData([['HeaderDigest', 'None']]) }, `then T=${+t2} C=${+c2} CSG=${csg2} NSG=${nsg2}`);
      if (q && t2 && c2 && q.bhs[36] !== 2) s.fail('rfc', `a Login Request with T=1 and C=1 answered ${statusOf(q)} instead of an initiator error (02xx)`);
      await expectClosedAfterFailure(s, q);
    } else {
      await expectClosedAfterFailure(s, p);
    }
  },
};

/** Versions, names, session types, malformed and oversized text. */
const text: Generator = {
  name: 'login-text',
  pdu: 'Login Request',
  async run(g) {
    const r = g.r;
    const { s, w, targetName } = await setup(g);
    const variant = r.int(0, 9);
    const keys = firstKeys(g, targetName, r.pick(['None', 'CHAP,None']));
    let body: Buffer;
    let versionMin = 0;
    let versionMax = 0;
    let want: string | undefined;
    switch (variant) {
      case 0:
        versionMin = r.int(1, 255);
        versionMax = r.int(versionMin, 255);
        body = textData(keys);
        want = '0205';
        break;
      case 1:
        body = textData(keys.filter(([k]) => k !== 'InitiatorName'));
        want = '0207';
        break;
      case 2: {
        // RFC 7143 §4.2.7.1: iSCSI names start iqn., eui. or naa. and use a restricted alphabet.
        const bad = r.pick(['not-an-iscsi-name', 'iqn.', 'eui.XYZ', 'iqn.2026-11.io.scatter:with space', 'x'.repeat(300), 'IQN.2026-11.UPPER:case']);
        body = textData(keys.map(([k, v]) => (k === 'InitiatorName' ? [k, bad] : [k, v])));
        want = '02';
        break;
      }
      case 3:
        body = textData(keys.map(([k, v]) => (k === 'SessionType' ? [k, r.pick(['Bogus', '', 'normal', 'Discovery,Normal'])] : [k, v])));
        break;
      case 4:
        body = textData([...keys, ...keys.slice(0, 1)]);
        want = '02';
        break;
      case 5:
        // Many unknown keys: the answer (NotUnderstood each) must still fit 8192 bytes per PDU.
        body = textData([...keys, ...Array.from({ length: r.int(100, 700) }, (_, i) => [`X-fuzz-unknown-key-${i}`, 'v'] as [string, string])].slice(0, 700));
        if (body.length > 8192) body = body.subarray(0, body.lastIndexOf(0, 8191) + 1);
        break;
      case 6:
        body = Buffer.concat([textData(keys), r.bytes(r.int(1, 200))]);
        break;
      case 7:
        body = Buffer.concat([textData(keys.slice(0, 2)), Buffer.from(`${'Z'.repeat(r.int(60, 70))}=1\0NoEquals\0`)]);
        break;
      case 8:
        // Larger than the 8192 bytes a target takes during login.
        body = Buffer.concat([textData(keys), Buffer.alloc(r.int(8192, 9000) - textData(keys).length + 1, 0x41)]);
        break;
      default:
        body = textData([['InitiatorName', g.initiatorName], ['SessionType', 'Discovery'], ['AuthMethod', 'None'], ...(r.bool() ? [['TargetName', targetName] as [string, string]] : [])]);
        w.unknownTarget = false;
        w.chapTarget = false;
        break;
    }
    // The many-keys variant may need several rounds; the others get their verdict in one.
    const p = await step(s, w, { transit: r.bool(0.7), cont: false, csg: 0, nsg: 1, text: body, versionMax, versionMin }, `login text variant ${variant}`);
    if (!p) return;
    if (want && !statusOf(p).startsWith(want)) s.fail('rfc', `login text variant ${variant}: status ${statusOf(p)}, RFC 7143 §11.13.5 wants ${want}${want.length === 2 ? 'xx' : ''}`);
    await expectClosedAfterFailure(s, p);
  },
};

/** CHAP keys out of order, wrong, reflected, oversized; and sometimes right. */
const chap: Generator = {
  name: 'login-chap',
  pdu: 'Login Request',
  async run(g) {
    const r = g.r;
    const s = await g.connect();
    const w: Watch = { chapTarget: true, unknownTarget: false, chapProven: false };
    const creds = g.slot.chapCredentials;
    let p = await step(s, w, { transit: false, cont: false, csg: 0, nsg: 1, text: textData(firstKeys(g, g.slot.chap, 'CHAP')) }, 'AuthMethod=CHAP');
    if (!p || p.bhs[36] !== 0) return expectClosedAfterFailure(s, p);
    const rounds = r.int(1, 4);
    for (let i = 0; i < rounds && p && p.bhs[36] === 0 && !s.closed; i++) {
      const variant = r.int(0, 9);
      let pairs: [string, string][];
      const ch = w.challenge;
      switch (variant) {
        case 0:
          pairs = [['CHAP_A', r.pick(['5', '7,5', '99', '', 'md5', '5,6,7,8', '0x05'])]];
          break;
        case 1:
          pairs = [['CHAP_N', creds.user], ['CHAP_R', `0x${r.bytes(r.pick([16, 20, 32, 0, 1, 600])).toString('hex')}`]];
          break;
        case 2:
          pairs = [['CHAP_N', r.pick(['', 'nobody', creds.user.toUpperCase(), 'x'.repeat(400)])], ['CHAP_R', ch ? `0x${chapResponse(ch.alg, ch.id, creds.secret, ch.c).toString('hex')}` : '0x00']];
          break;
        case 3:
          // Reflect the target's own challenge back as ours (mutual CHAP reflection attack).
          pairs = ch
            ? [['CHAP_N', creds.user], ['CHAP_R', `0x${chapResponse(ch.alg, ch.id, creds.secret, ch.c).toString('hex')}`], ['CHAP_I', String(ch.id)], ['CHAP_C', `0x${ch.c.toString('hex')}`]]
            : [['CHAP_I', '1'], ['CHAP_C', '0x00']];
          break;
        case 4:
          pairs = [['CHAP_C', `0x${r.bytes(r.int(0, 2000)).toString('hex')}`], ['CHAP_I', String(r.int(-5, 300))]];
          break;
        case 5:
          pairs = [['CHAP_R', r.pick(['0x', 'zz', '0bAAAA', '0xabc'])], ['CHAP_N', creds.user]];
          break;
        default: {
          // The right answer (when a challenge is in force): from here on the target may let us pass.
          if (!ch) {
            pairs = [['CHAP_A', '5']];
            break;
          }
          pairs = [['CHAP_N', creds.user], ['CHAP_R', `0x${chapResponse(ch.alg, ch.id, creds.secret, ch.c).toString('hex')}`]];
          w.chapProven = true;
          break;
        }
      }
      const transit = r.bool(0.6);
      p = await step(s, w, { transit, cont: false, csg: 0, nsg: r.pick([1, 1, 3]), text: textData(pairs) }, `CHAP variant ${variant}`);
    }
    await expectClosedAfterFailure(s, p);
  },
};

/** ISID / TSIH / CID changing mid-login, a TSIH of no session, other PDUs during login. */
const identity: Generator = {
  name: 'login-identity',
  pdu: 'Login Request',
  async run(g) {
    const r = g.r;
    const { s, w, targetName } = await setup(g);
    const variant = r.int(0, 3);
    if (variant === 0) {
      const p = await step(s, w, { transit: false, cont: false, csg: 0, nsg: 1, text: textData(firstKeys(g, targetName, 'None')), tsih: r.int(1, 0xffff) }, 'a TSIH no session has');
      if (p && statusOf(p) === '0000' && ((p.bhs[1]! & 0x80) !== 0 || r.bool())) {
        await step(s, w, { transit: true, cont: false, csg: 1, nsg: 3, text: textData([['HeaderDigest', 'None']]), tsih: p.bhs.readUInt16BE(14) }, 'continue');
      }
      return;
    }
    if (variant === 1) {
      const p = await step(s, w, { transit: false, cont: false, csg: 0, nsg: 1, text: textData(firstKeys(g, targetName, 'None')) }, 'first');
      if (!p || p.bhs[36] !== 0) return expectClosedAfterFailure(s, p);
      const change = r.pick(['isid', 'cid', 'itt'] as const);
      const q: LoginRequest = { transit: true, cont: false, csg: 0, nsg: 1, text: Buffer.alloc(0) };
      if (change === 'isid') q.isid = r.bytes(6);
      if (change === 'cid') q.cid = (s.cid + 1) & 0xffff;
      if (change === 'itt') q.itt = 2;
      const second = await step(s, w, q, `the ${change} changes mid-login`);
      await expectClosedAfterFailure(s, second);
      return;
    }
    // Another PDU before the login is complete: a Login Response refusing it, or the connection closed.
    if (variant === 2) await step(s, w, { transit: false, cont: false, csg: 0, nsg: 1, text: textData(firstKeys(g, targetName, 'None')) }, 'first');
    const since = s.mark();
    s.send(nopOutBhs({ immediate: true, itt: 7, ttt: NO_TAG, cmdSN: 1, expStatSN: s.expStatSN, dataLength: 0 }), { note: 'a NOP-Out during login' });
    const got = await s.waitPdu((p) => opOf(p.bhs) === Opcode.LOGIN_RSP && p.bhs[36] !== 0, s.answerMs, since);
    if (!got && !s.closed) s.fail('rfc', 'a NOP-Out during login got neither a failed Login Response nor the connection closed');
    await expectClosedAfterFailure(s, got);
  },
};

export const loginGenerators: Generator[] = [continued, flags, text, chap, identity];
