/**
 * Issue 9 item 21: a Login Response whose text is longer than the initiator takes during login
 * (8192 bytes, RFC 7143 §13.12 and §6.1) goes out in pieces with C=1 and T=0 (§11.13.2), each
 * fetched by an empty Login Request; the login then completes as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTextPairs, parseTextData } from '../../src/iscsi/text.js';
import { RawLogin, freshInitiatorName, type LoginFlags, type LoginReply } from '../helpers/login-raw.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget();
});
afterAll(() => t.stop());

/** Vendor keys nobody knows: each one is answered "NotUnderstood", longer than the offer. */
function unknownKeys(n: number): [string, string][] {
  return Array.from({ length: n }, (_, i): [string, string] => [`X-io.scatter.test.unknown-${String(i).padStart(4, '0')}`, 'v']);
}

/** Send text with the C bit over PDUs of at most `segment` bytes; returns the reply to the last one. */
async function sendContinued(login: RawLogin, f: LoginFlags, text: Buffer, segment = 8192): Promise<LoginReply> {
  for (let offset = 0; ; offset += segment) {
    const last = offset + segment >= text.length;
    const r = await login.request({ ...f, transit: last && f.transit, cont: !last }, text.subarray(offset, offset + segment));
    if (last) return r;
    expect(r.status).toBe('0000');
    expect(r.data.length).toBe(0);
  }
}

/** Fetch every piece of a continued response with empty requests; returns all replies. */
async function collect(login: RawLogin, first: LoginReply, f: LoginFlags): Promise<LoginReply[]> {
  const replies = [first];
  let r = first;
  while (r.cont) {
    expect(r.status).toBe('0000');
    // §11.13.2: a response with C=1 must have T=0.
    expect(r.transit).toBe(false);
    r = await login.request({ ...f, cont: false }, []);
    replies.push(r);
  }
  return replies;
}

function joinedText(replies: LoginReply[]): Map<string, string> {
  return new Map(parseTextData(Buffer.concat(replies.map((r) => r.data))).pairs);
}

async function toOperationalStage(login: RawLogin): Promise<void> {
  const r = await login.request({ transit: true, csg: 0, nsg: 1 }, [
    ['InitiatorName', freshInitiatorName('split')],
    ['SessionType', 'Normal'],
    ['TargetName', TEST_IQN],
    ['AuthMethod', 'None'],
  ]);
  expect(r.status).toBe('0000');
  expect(r.transit).toBe(true);
}

describe('Login Responses split with the C bit', () => {
  it('an operational answer of ~28 KiB comes in pieces of at most 8192 bytes and the login completes', async () => {
    const login = await RawLogin.connect(t.port);
    await toOperationalStage(login);
    const keys = unknownKeys(700);
    const text = encodeTextPairs([['HeaderDigest', 'None'], ['DataDigest', 'None'], ...keys]);
    const f = { transit: true, csg: 1, nsg: 3 } as const;
    const replies = await collect(login, await sendContinued(login, f, text), f);

    expect(replies.length).toBeGreaterThanOrEqual(4);
    for (const r of replies) expect(r.data.length).toBeLessThanOrEqual(8192);
    const final = replies[replies.length - 1]!;
    expect(final.status).toBe('0000');
    expect(final.transit).toBe(true);
    expect(final.nsg).toBe(3);
    expect(final.tsih).toBeGreaterThan(0);
    // Only the final piece carries the new TSIH.
    for (const r of replies.slice(0, -1)) expect(r.tsih).toBe(0);
    const answered = joinedText(replies);
    for (const [k] of keys) expect(answered.get(k)).toBe('NotUnderstood');
    expect(answered.get('HeaderDigest')).toBe('None');
    expect(answered.get('MaxRecvDataSegmentLength')).toBe(String(t.config.iscsi.maxRecvDataSegmentLength));
    // StatSN counts every Login Response.
    const statSNs = replies.map((r) => r.bhs.readUInt32BE(24));
    for (let i = 1; i < statSNs.length; i++) expect(statSNs[i]).toBe((statSNs[i - 1]! + 1) >>> 0);
    login.close();
  });

  it('a smaller MaxRecvDataSegmentLength declared in the login is honoured already', async () => {
    const login = await RawLogin.connect(t.port);
    await toOperationalStage(login);
    const text = encodeTextPairs([['MaxRecvDataSegmentLength', '4096'], ...unknownKeys(300)]);
    const f = { transit: true, csg: 1, nsg: 3 } as const;
    const replies = await collect(login, await sendContinued(login, f, text, 4096), f);
    expect(replies.length).toBeGreaterThanOrEqual(3);
    for (const r of replies) expect(r.data.length).toBeLessThanOrEqual(4096);
    expect(replies[replies.length - 1]!.tsih).toBeGreaterThan(0);
    login.close();
  });

  it('a larger declared MaxRecvDataSegmentLength does not lift the 8192-byte login limit', async () => {
    const login = await RawLogin.connect(t.port);
    await toOperationalStage(login);
    const text = encodeTextPairs([['MaxRecvDataSegmentLength', '262144'], ...unknownKeys(400)]);
    const f = { transit: true, csg: 1, nsg: 3 } as const;
    const replies = await collect(login, await sendContinued(login, f, text), f);
    expect(replies.length).toBeGreaterThanOrEqual(2);
    for (const r of replies) expect(r.data.length).toBeLessThanOrEqual(8192);
    expect(replies[replies.length - 1]!.tsih).toBeGreaterThan(0);
    login.close();
  });

  it('a long security-stage answer is split too, and the transit comes with its last piece', async () => {
    const login = await RawLogin.connect(t.port);
    const text = encodeTextPairs([
      ['InitiatorName', freshInitiatorName('split-sec')],
      ['SessionType', 'Normal'],
      ['TargetName', TEST_IQN],
      ['AuthMethod', 'None'],
      ...unknownKeys(400),
    ]);
    const f = { transit: true, csg: 0, nsg: 1 } as const;
    const replies = await collect(login, await sendContinued(login, f, text), f);
    expect(replies.length).toBeGreaterThanOrEqual(2);
    for (const r of replies) expect(r.data.length).toBeLessThanOrEqual(8192);
    const last = replies[replies.length - 1]!;
    expect(last.transit).toBe(true);
    expect(last.nsg).toBe(1);
    expect(joinedText(replies).get('AuthMethod')).toBe('None');
    // Now in the operational stage.
    const done = await login.request({ transit: true, csg: 1, nsg: 3 }, [['HeaderDigest', 'None']]);
    expect(done.status).toBe('0000');
    expect(done.tsih).toBeGreaterThan(0);
    login.close();
  });

  it('keys sent while the target is still continuing its answer are an initiator error (0200)', async () => {
    const login = await RawLogin.connect(t.port);
    await toOperationalStage(login);
    const f = { transit: true, csg: 1, nsg: 3 } as const;
    const first = await sendContinued(login, f, encodeTextPairs(unknownKeys(400)));
    expect(first.cont).toBe(true);
    const r = await login.request(f, [['HeaderDigest', 'None']]);
    expect(r.status).toBe('0200');
    await login.waitClosed();
  });
});
