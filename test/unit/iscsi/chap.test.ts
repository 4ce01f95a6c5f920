import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ChallengeCache,
  ChapTargetSession,
  MIN_INITIATOR_CHALLENGE_LENGTH,
  chapConfigFromAuth,
  type ChapAlgorithm,
  type ChapTargetConfig,
} from '../../../src/iscsi/chap.js';
import { decodeChapBinary, parseChapIdentifier } from '../../../src/iscsi/chap-values.js';

const INITIATOR = { user: 'iqn.2026-01.org.example:host1', secret: 'initiator-secret-1' };
const TARGET = { user: 'scatter-target', secret: 'target-secret-22' };
const HASH: Record<ChapAlgorithm, { name: string; length: number }> = {
  5: { name: 'md5', length: 16 },
  6: { name: 'sha1', length: 20 },
  7: { name: 'sha256', length: 32 },
  8: { name: 'sha3-256', length: 32 },
};

/** Identifier 0x2a, then challenge bytes 00 01 02 ... — a predictable "random" source. */
function fixedRandom(n: number): Buffer {
  return n === 1 ? Buffer.of(0x2a) : Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff));
}

/** The initiator side, written from the RFC 1994 formula: H(id || secret || challenge). */
function respond(algorithm: ChapAlgorithm, id: number, secret: string, challenge: Buffer): Buffer {
  return createHash(HASH[algorithm].name).update(Buffer.of(id)).update(secret, 'utf8').update(challenge).digest();
}

function keys(entries: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(entries));
}

function session(cfg: Partial<ChapTargetConfig> = {}, cache = new ChallengeCache()): ChapTargetSession {
  return new ChapTargetSession({ initiator: INITIATOR, ...cfg }, { replayCache: cache });
}

/** Run step 1 and parse what the target sent. */
function challenge(s: ChapTargetSession, offer = '5') {
  const res = s.step(keys({ CHAP_A: offer }));
  expect(res.state).toBe('continue');
  const reply = new Map(res.reply);
  const algorithm = Number(reply.get('CHAP_A')) as ChapAlgorithm;
  const id = Number(reply.get('CHAP_I'));
  const c = reply.get('CHAP_C') ?? '';
  expect(c).toMatch(/^0x[0-9a-f]+$/);
  return { algorithm, id, challenge: Buffer.from(c.slice(2), 'hex'), reply: res.reply };
}

function answer(s: ChapTargetSession, offer = '5', secret = INITIATOR.secret, extra: Record<string, string> = {}) {
  const c = challenge(s, offer);
  const r = respond(c.algorithm, c.id, secret, c.challenge);
  return s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${r.toString('hex')}`, ...extra }));
}

describe('ChapTargetSession: one-way CHAP', () => {
  it.each([5, 6, 7, 8] as const)('algorithm %i: challenge as long as the digest, response verified', (algorithm) => {
    const s = session();
    const c = challenge(s, String(algorithm));
    expect(c.algorithm).toBe(algorithm);
    expect(c.id).toBeGreaterThanOrEqual(0);
    expect(c.id).toBeLessThanOrEqual(255);
    expect(c.challenge.length).toBe(HASH[algorithm].length);
    const r = respond(algorithm, c.id, INITIATOR.secret, c.challenge);
    const res = s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${r.toString('hex')}` }));
    expect(res).toEqual({ reply: [], state: 'success' });
  });

  // Known answers computed with Python's hashlib for id 0x2a, secret "initiator-secret-1"
  // and the challenge 00 01 02 ... of digest length.
  it.each([
    [5, 'e79fdcbe5e09993799a5f67c719b8cdc'],
    [6, '715d134eefc662b3ab89c0c9c4fd9e9dff8500b9'],
    [7, '5e3dd41ca5d333cbe2e1c57deb14e6cd1c770b3d2251effb1dc397d96283590b'],
    [8, '4b817839a54b13243fbb1a61a2a38ab3737d361eec4f73416ef82bad697b0741'],
  ] as const)('algorithm %i accepts the fixed known-answer vector', (algorithm, hex) => {
    const s = new ChapTargetSession({ initiator: INITIATOR }, { randomBytes: fixedRandom, replayCache: new ChallengeCache() });
    const res1 = s.step(keys({ CHAP_A: String(algorithm) }));
    const length = HASH[algorithm].length;
    expect(res1.reply).toEqual([
      ['CHAP_A', String(algorithm)],
      ['CHAP_I', '42'],
      ['CHAP_C', `0x${fixedRandom(length).toString('hex')}`],
    ]);
    const res2 = s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${hex}` }));
    expect(res2.state).toBe('success');
  });

  it('accepts a base64 (0b) and an upper-case hex (0X) response', () => {
    for (const encode of [(b: Buffer) => `0b${b.toString('base64')}`, (b: Buffer) => `0X${b.toString('hex').toUpperCase()}`]) {
      const s = session();
      const c = challenge(s, '7');
      const r = respond(7, c.id, INITIATOR.secret, c.challenge);
      expect(s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: encode(r) })).state).toBe('success');
    }
  });

  it('ignores non-CHAP keys sent alongside', () => {
    const s = session();
    const c = challenge(s);
    const r = respond(5, c.id, INITIATOR.secret, c.challenge);
    const res = s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${r.toString('hex')}`, HeaderDigest: 'None' }));
    expect(res.state).toBe('success');
  });

  it('draws identifier and challenge from the random source, fresh per login', () => {
    const a = challenge(session(), '7');
    const b = challenge(session(), '7');
    expect(a.challenge.equals(b.challenge)).toBe(false);
  });

  it('rejects a wrong secret', () => {
    const res = answer(session(), '5', 'not-the-right-secret');
    expect(res.state).toBe('failure');
    expect(res.code).toBe('bad-response');
    expect(res.reason).toMatch(/does not match/);
    expect(res.reply).toEqual([]);
  });

  it('rejects a wrong user even with the right secret', () => {
    const s = session();
    const c = challenge(s);
    const r = respond(5, c.id, INITIATOR.secret, c.challenge);
    const res = s.step(keys({ CHAP_N: 'someone-else', CHAP_R: `0x${r.toString('hex')}` }));
    expect(res).toMatchObject({ state: 'failure', code: 'wrong-user' });
    expect(res.reason).toContain('someone-else');
  });

  it('checks the response even when the user is wrong (same work and same answer as a wrong secret)', () => {
    const wrongBoth = session();
    const c1 = challenge(wrongBoth);
    const bad = respond(5, c1.id, 'not-the-right-secret', c1.challenge);
    const a = wrongBoth.step(keys({ CHAP_N: 'someone-else', CHAP_R: `0x${bad.toString('hex')}` }));
    expect(a).toMatchObject({ state: 'failure', code: 'wrong-user', reply: [] });
    expect(a.reason).toMatch(/CHAP_R does not match/);

    const wrongUserOnly = session();
    const c2 = challenge(wrongUserOnly);
    const good = respond(5, c2.id, INITIATOR.secret, c2.challenge);
    const b = wrongUserOnly.step(keys({ CHAP_N: 'someone-else', CHAP_R: `0x${good.toString('hex')}` }));
    expect(b).toMatchObject({ state: 'failure', code: 'wrong-user', reply: [] });
    expect(b.reason).toMatch(/CHAP_R matches the configured secret/);

    const wrongSecretOnly = answer(session(), '5', 'not-the-right-secret');
    // What goes back on the wire (nothing but the failure) is the same in all three cases.
    expect(wrongSecretOnly.reply).toEqual(a.reply);
    expect(wrongSecretOnly.state).toBe(a.state);
  });

  it('rejects a response of the wrong length (e.g. an MD5 answer to a SHA-256 challenge)', () => {
    const s = session();
    const c = challenge(s, '7');
    const r = respond(5, c.id, INITIATOR.secret, c.challenge);
    const res = s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${r.toString('hex')}` }));
    expect(res).toMatchObject({ state: 'failure', code: 'bad-response' });
    expect(res.reason).toMatch(/16 bytes.*32/);
  });

  it('rejects a response computed with another identifier', () => {
    const s = session();
    const c = challenge(s);
    const r = respond(5, (c.id + 1) & 0xff, INITIATOR.secret, c.challenge);
    expect(s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${r.toString('hex')}` })).code).toBe('bad-response');
  });

  it.each([
    ['no prefix', 'deadbeef'],
    ['bad hex', '0xzz11'],
    ['empty hex', '0x'],
    ['bad base64', '0b!!!!'],
    ['base64 with a lone trailing char', '0bAAAAA'],
    ['base64 padding in the middle', '0bAA==AAAA'],
  ])('rejects a malformed CHAP_R (%s)', (_name, value) => {
    const s = session();
    challenge(s);
    const res = s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: value }));
    expect(res).toMatchObject({ state: 'failure', code: 'malformed' });
    expect(res.reason).toMatch(/^CHAP_R: /);
  });

  it('reports missing keys', () => {
    const noA = session().step(keys({}));
    expect(noA).toMatchObject({ state: 'failure', code: 'protocol' });
    expect(noA.reason).toMatch(/CHAP_A missing/);

    const s1 = session();
    challenge(s1);
    expect(s1.step(keys({ CHAP_R: '0x00' })).reason).toMatch(/CHAP_N missing/);

    const s2 = session();
    challenge(s2);
    expect(s2.step(keys({ CHAP_N: INITIATOR.user })).reason).toMatch(/CHAP_R missing/);
  });

  it('rejects keys out of order and steps after the end', () => {
    const early = session().step(keys({ CHAP_A: '5', CHAP_N: INITIATOR.user }));
    expect(early).toMatchObject({ state: 'failure', code: 'protocol' });
    expect(early.reason).toContain('CHAP_N');

    const again = session();
    challenge(again);
    expect(again.step(keys({ CHAP_A: '5' }))).toMatchObject({ state: 'failure', code: 'protocol' });

    const done = session();
    expect(answer(done).state).toBe('success');
    expect(done.step(keys({ CHAP_A: '5' }))).toMatchObject({ state: 'failure', code: 'protocol' });

    const unknown = session();
    challenge(unknown);
    expect(unknown.step(keys({ CHAP_N: 'x', CHAP_R: '0x00', CHAP_X: '1' })).reason).toContain('CHAP_X');
  });

  it('a failed step ends the exchange', () => {
    const s = session();
    expect(s.step(keys({ CHAP_A: '99' })).state).toBe('failure');
    expect(s.step(keys({ CHAP_A: '5' })).state).toBe('failure');
  });
});

describe('ChapTargetSession: algorithm choice', () => {
  it("takes the initiator's first offer that is allowed", () => {
    expect(challenge(session(), '5,7,6').algorithm).toBe(5);
    expect(challenge(session(), '8,5').algorithm).toBe(8);
    expect(challenge(session({ algorithms: [7, 6] }), '5,6,7').algorithm).toBe(6);
    expect(challenge(session({ algorithms: [7] }), 'Reject,99,7').algorithm).toBe(7);
    const s = session({ algorithms: [6] });
    expect(s.chosenAlgorithm).toBeUndefined();
    challenge(s, '6');
    expect(s.chosenAlgorithm).toBe(6);
  });

  it('answers CHAP_A=Reject and fails when nothing offered is allowed', () => {
    const res = session({ algorithms: [7, 8] }).step(keys({ CHAP_A: '5,6' }));
    expect(res).toMatchObject({ state: 'failure', code: 'unsupported-algorithm', reply: [['CHAP_A', 'Reject']] });
    expect(res.reason).toMatch(/offered CHAP_A="5,6", allowed 7,8/);
  });

  it('rejects an invalid allow-list at construction', () => {
    expect(() => new ChapTargetSession({ initiator: INITIATOR, algorithms: [] })).toThrow(TypeError);
    expect(() => new ChapTargetSession({ initiator: INITIATOR, algorithms: [4 as ChapAlgorithm] })).toThrow(TypeError);
    expect(() => new ChapTargetSession({ initiator: { user: '', secret: 'x' } })).toThrow(TypeError);
  });
});

describe('ChapTargetSession: mutual CHAP', () => {
  function mutualExchange(cfg: Partial<ChapTargetConfig>, cache: ChallengeCache, offer: string, mutual: { id: string; c: Buffer | string }) {
    const s = session(cfg, cache);
    const c = challenge(s, offer);
    const r = respond(c.algorithm, c.id, INITIATOR.secret, c.challenge);
    const cText = typeof mutual.c === 'string' ? mutual.c : `0x${mutual.c.toString('hex')}`;
    return { res: s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${r.toString('hex')}`, CHAP_I: mutual.id, CHAP_C: cText })), c };
  }

  it.each([5, 6, 7, 8] as const)('algorithm %i: answers with the target user and H(I || mutual secret || C)', (algorithm) => {
    const ic = randomBytes(HASH[algorithm].length);
    const { res } = mutualExchange({ mutual: TARGET }, new ChallengeCache(), String(algorithm), { id: '7', c: ic });
    expect(res.state).toBe('success');
    expect(res.reply).toEqual([
      ['CHAP_N', TARGET.user],
      ['CHAP_R', `0x${respond(algorithm, 7, TARGET.secret, ic).toString('hex')}`],
    ]);
  });

  it('matches a fixed MD5 vector (id 7, 32 bytes of 0xa5, as libiscsi sends)', () => {
    const { res } = mutualExchange({ mutual: TARGET }, new ChallengeCache(), '5', { id: '7', c: Buffer.alloc(32, 0xa5) });
    expect(res.reply).toEqual([
      ['CHAP_N', TARGET.user],
      ['CHAP_R', '0x64b101c0cd7e3ed720283849116baf9c'],
    ]);
  });

  it('accepts a hex identifier and a base64 challenge', () => {
    const ic = randomBytes(16);
    const { res } = mutualExchange({ mutual: TARGET }, new ChallengeCache(), '5', { id: '0xff', c: `0b${ic.toString('base64')}` });
    expect(res.reply[1]).toEqual(['CHAP_R', `0x${respond(5, 255, TARGET.secret, ic).toString('hex')}`]);
  });

  it('fails when the initiator asks for mutual CHAP and the target has no credentials', () => {
    const { res } = mutualExchange({}, new ChallengeCache(), '5', { id: '1', c: randomBytes(16) });
    expect(res).toMatchObject({ state: 'failure', code: 'mutual-not-configured', reply: [] });
  });

  it('fails when mutual CHAP is configured and the initiator does not ask for it', () => {
    const res = answer(session({ mutual: TARGET }));
    expect(res).toMatchObject({ state: 'failure', code: 'mutual-required' });
  });

  it('does not answer the mutual challenge when the initiator failed', () => {
    const s = session({ mutual: TARGET });
    const c = challenge(s);
    const r = respond(5, c.id, 'not-the-right-secret', c.challenge);
    const res = s.step(keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${r.toString('hex')}`, CHAP_I: '1', CHAP_C: `0x${randomBytes(16).toString('hex')}` }));
    expect(res).toMatchObject({ state: 'failure', code: 'bad-response', reply: [] });
  });

  it('refuses a reflected challenge', () => {
    const cache = new ChallengeCache();
    const s = session({ mutual: TARGET }, cache);
    const c = challenge(s, '7');
    const r = respond(7, c.id, INITIATOR.secret, c.challenge);
    const res = s.step(
      keys({ CHAP_N: INITIATOR.user, CHAP_R: `0x${r.toString('hex')}`, CHAP_I: String(c.id), CHAP_C: `0x${c.challenge.toString('hex')}` }),
    );
    expect(res).toMatchObject({ state: 'failure', code: 'reflected-challenge', reply: [] });
  });

  it("refuses a challenge reflected from another login's target challenge", () => {
    const cache = new ChallengeCache();
    const other = challenge(session({ mutual: TARGET }, cache), '5');
    const { res } = mutualExchange({ mutual: TARGET }, cache, '5', { id: '3', c: other.challenge });
    expect(res).toMatchObject({ state: 'failure', code: 'replayed-challenge' });
  });

  it('refuses a challenge replayed in a later login, with a shared cache', () => {
    const cache = new ChallengeCache();
    const ic = randomBytes(16);
    expect(mutualExchange({ mutual: TARGET }, cache, '5', { id: '9', c: ic }).res.state).toBe('success');
    const replay = mutualExchange({ mutual: TARGET }, cache, '5', { id: '9', c: ic }).res;
    expect(replay).toMatchObject({ state: 'failure', code: 'replayed-challenge', reply: [] });
    // A different cache (another process) knows nothing of it.
    expect(mutualExchange({ mutual: TARGET }, new ChallengeCache(), '5', { id: '9', c: ic }).res.state).toBe('success');
  });

  it('refuses a challenge that is too short or too long', () => {
    const short = mutualExchange({ mutual: TARGET }, new ChallengeCache(), '5', {
      id: '1',
      c: randomBytes(MIN_INITIATOR_CHALLENGE_LENGTH - 1),
    }).res;
    expect(short).toMatchObject({ state: 'failure', code: 'challenge-length' });
    const long = mutualExchange({ mutual: TARGET }, new ChallengeCache(), '5', { id: '1', c: randomBytes(1025) }).res;
    expect(long).toMatchObject({ state: 'failure', code: 'malformed' });
    expect(long.reason).toMatch(/1024/);
  });

  it.each([
    ['CHAP_I out of range', { id: '256', c: '0x' + '11'.repeat(16) }, 'malformed'],
    ['CHAP_I not a number', { id: 'x1', c: '0x' + '11'.repeat(16) }, 'malformed'],
    ['CHAP_C bad hex', { id: '1', c: '0x' + 'g1'.repeat(16) }, 'malformed'],
  ] as const)('rejects %s', (_name, mutual, code) => {
    expect(mutualExchange({ mutual: TARGET }, new ChallengeCache(), '5', mutual).res).toMatchObject({ state: 'failure', code });
  });

  it('rejects CHAP_I without CHAP_C and the reverse', () => {
    const halves: Record<string, string>[] = [{ CHAP_I: '1' }, { CHAP_C: `0x${randomBytes(16).toString('hex')}` }];
    for (const extra of halves) {
      const res = answer(session({ mutual: TARGET }), '5', INITIATOR.secret, extra);
      expect(res).toMatchObject({ state: 'failure', code: 'protocol' });
    }
  });
});

describe('ChallengeCache', () => {
  it('remembers, detects repeats and forgets the oldest beyond capacity', () => {
    const cache = new ChallengeCache(3);
    const [a, b, c, d] = [1, 2, 3, 4].map((n) => Buffer.alloc(16, n)) as [Buffer, Buffer, Buffer, Buffer];
    expect(cache.remember(a)).toBe(true);
    expect(cache.remember(a)).toBe(false);
    cache.remember(b);
    cache.remember(c);
    cache.remember(d);
    expect(cache.size).toBe(3);
    expect(cache.has(a)).toBe(false);
    expect(cache.has(d)).toBe(true);
    expect(() => new ChallengeCache(0)).toThrow(RangeError);
  });
});

describe('CHAP value encodings', () => {
  it('hex and base64 decode to the same bytes for any value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        const b = Buffer.from(bytes);
        const hex = decodeChapBinary(`0x${b.toString('hex')}`);
        const b64 = decodeChapBinary(`0b${b.toString('base64')}`);
        const b64Unpadded = decodeChapBinary(`0b${b.toString('base64').replace(/=+$/, '')}`);
        return [hex, b64, b64Unpadded].every((d) => d.ok && d.value.equals(b));
      }),
      { numRuns: 200 },
    );
  });

  it('reads an odd number of hex digits with a leading zero nibble', () => {
    expect(decodeChapBinary('0xabc')).toEqual({ ok: true, value: Buffer.from([0x0a, 0xbc]) });
  });

  it('parses identifiers', () => {
    expect(parseChapIdentifier('0')).toEqual({ ok: true, value: 0 });
    expect(parseChapIdentifier('255')).toEqual({ ok: true, value: 255 });
    expect(parseChapIdentifier('0x1F')).toEqual({ ok: true, value: 31 });
    expect(parseChapIdentifier('-1').ok).toBe(false);
    expect(parseChapIdentifier('').ok).toBe(false);
  });
});

describe('chapConfigFromAuth', () => {
  it('maps an auth block to session settings', () => {
    expect(chapConfigFromAuth({ method: 'none' })).toBeNull();
    expect(
      chapConfigFromAuth({
        method: 'chap',
        user: 'u',
        secret: 'secret-123456',
        mutualUser: 't',
        mutualSecret: 'other-secret-1',
        algorithms: [7, 5],
      }),
    ).toEqual({
      initiator: { user: 'u', secret: 'secret-123456' },
      mutual: { user: 't', secret: 'other-secret-1' },
      algorithms: [7, 5],
    });
  });
});
