/**
 * Target side of iSCSI CHAP (RFC 7143 §12.1.3 over RFC 1994), one instance per login.
 *
 *   initiator                         target
 *   CHAP_A=<A1,A2,...>          ->    CHAP_A=<A> CHAP_I=<I> CHAP_C=<C>        step 1
 *   CHAP_N CHAP_R [CHAP_I CHAP_C] ->  [CHAP_N CHAP_R]  (mutual CHAP)          step 2
 *
 * Every failure carries a precise reason for the log; the login code tells the
 * initiator no more than "authentication failure".
 */
import { createHash, randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthConfig } from '../config/schema.js';
import {
  CHAP_ALGORITHMS,
  chapAlgorithmAvailable,
  chapAlgorithmName,
  chapDigestLength,
  chapResponse,
  isChapAlgorithm,
  type ChapAlgorithm,
} from './chap-hash.js';
import { ChallengeCache, sharedChallengeCache } from './chap-replay.js';
import {
  decodeChapBinary,
  encodeChapHex,
  parseChapAlgorithmList,
  parseChapIdentifier,
  quoteForLog,
} from './chap-values.js';

export type { ChapAlgorithm } from './chap-hash.js';
export { CHAP_ALGORITHMS } from './chap-hash.js';
export { ChallengeCache, sharedChallengeCache } from './chap-replay.js';

export interface ChapCredentials {
  user: string;
  secret: string;
}

export interface ChapTargetConfig {
  /** What the initiator must prove: its CHAP_N and the secret behind its CHAP_R. */
  initiator: ChapCredentials;
  /** What the target answers with when the initiator asks for mutual CHAP; when set, mutual CHAP is required. */
  mutual?: ChapCredentials;
  /** Algorithms allowed; the initiator's first offered one that is allowed wins. Default: all of CHAP_ALGORITHMS. */
  algorithms?: ChapAlgorithm[];
}

export interface ChapSessionOptions {
  /** Source of the challenge and identifier; tests make it deterministic. */
  randomBytes?: (n: number) => Buffer;
  /** Challenges already seen; defaults to the process-wide cache. */
  replayCache?: ChallengeCache;
}

/** Stable codes for metrics and tests; `reason` has the human detail. */
export type ChapFailureCode =
  | 'protocol' // keys missing, unexpected or sent out of order
  | 'unsupported-algorithm'
  | 'malformed' // a value that does not decode
  | 'wrong-user'
  | 'bad-response'
  | 'mutual-required' // the target is configured for mutual CHAP, the initiator did not ask
  | 'mutual-not-configured' // the initiator asked for mutual CHAP, the target has no credentials for it
  | 'challenge-length'
  | 'reflected-challenge'
  | 'replayed-challenge';

export interface ChapStepResult {
  /** Keys for the login response, in order. */
  reply: [string, string][];
  state: 'continue' | 'success' | 'failure';
  reason?: string;
  code?: ChapFailureCode;
}

/** Equality of two strings in time independent of where they differ (both are hashed to 32 bytes first). */
function constantTimeEqualText(a: string, b: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Shortest initiator challenge accepted for mutual CHAP. Honest initiators send
 * at least this much: open-iscsi sends the digest length (16 for MD5), libiscsi
 * 32 bytes, iPXE 16. A short challenge lets an attacker precompute answers.
 */
export const MIN_INITIATOR_CHALLENGE_LENGTH = 16;

type Phase = 'algorithm' | 'response' | 'done';

const STEP1_KEYS = new Set(['CHAP_A']);
const STEP2_KEYS = new Set(['CHAP_N', 'CHAP_R', 'CHAP_I', 'CHAP_C']);

export class ChapTargetSession {
  private phase: Phase = 'algorithm';
  private readonly allowed: readonly ChapAlgorithm[];
  private readonly initiatorSecret: Buffer;
  private readonly mutualSecret: Buffer | undefined;
  private readonly randomBytes: (n: number) => Buffer;
  private readonly replayCache: ChallengeCache;
  private algorithm: ChapAlgorithm = 5;
  private identifier = 0;
  private challenge: Buffer = Buffer.alloc(0);

  constructor(
    private readonly cfg: ChapTargetConfig,
    opts: ChapSessionOptions = {},
  ) {
    if (cfg.initiator.user === '' || cfg.initiator.secret === '') {
      throw new TypeError('CHAP needs a non-empty initiator user and secret');
    }
    if (cfg.mutual !== undefined && (cfg.mutual.user === '' || cfg.mutual.secret === '')) {
      throw new TypeError('mutual CHAP needs a non-empty user and secret');
    }
    const algorithms = cfg.algorithms ?? CHAP_ALGORITHMS;
    if (algorithms.length === 0 || !algorithms.every(isChapAlgorithm)) {
      throw new TypeError(`CHAP algorithms must be a non-empty subset of ${CHAP_ALGORITHMS.join(',')}`);
    }
    // A FIPS-mode OpenSSL cannot do MD5: drop it rather than fail mid-login.
    this.allowed = algorithms.filter(chapAlgorithmAvailable);
    this.initiatorSecret = Buffer.from(cfg.initiator.secret, 'utf8');
    this.mutualSecret = cfg.mutual === undefined ? undefined : Buffer.from(cfg.mutual.secret, 'utf8');
    this.randomBytes = opts.randomBytes ?? cryptoRandomBytes;
    this.replayCache = opts.replayCache ?? sharedChallengeCache;
  }

  /** The algorithm chosen in step 1 (for the log), undefined before. */
  get chosenAlgorithm(): ChapAlgorithm | undefined {
    return this.challenge.length === 0 ? undefined : this.algorithm;
  }

  /** Feed the CHAP_* keys of one login request (other keys are ignored); returns the keys to reply and the state. */
  step(pairs: ReadonlyMap<string, string>): ChapStepResult {
    const keys = new Map<string, string>();
    for (const [key, value] of pairs) if (key.startsWith('CHAP_')) keys.set(key, value);

    switch (this.phase) {
      case 'algorithm':
        return this.finishOnFailure(this.chooseAlgorithm(keys));
      case 'response':
        this.phase = 'done';
        return this.verifyResponse(keys);
      case 'done':
        return failure('protocol', 'CHAP exchange already finished');
    }
  }

  private finishOnFailure(result: ChapStepResult): ChapStepResult {
    if (result.state === 'failure') this.phase = 'done';
    return result;
  }

  private chooseAlgorithm(keys: Map<string, string>): ChapStepResult {
    const unexpected = firstUnexpected(keys, STEP1_KEYS);
    if (unexpected !== undefined) return failure('protocol', `${unexpected} received before the target's challenge`);
    const offer = keys.get('CHAP_A');
    if (offer === undefined) return failure('protocol', 'CHAP_A missing: the initiator did not offer an algorithm');

    const chosen = parseChapAlgorithmList(offer).find(
      (n): n is ChapAlgorithm => isChapAlgorithm(n) && this.allowed.includes(n),
    );
    if (chosen === undefined) {
      // RFC 7143 §12.1.3: the target must pick one of the offered algorithms; none fits.
      const allowed = this.allowed.join(',') || 'none';
      const reason = `no offered CHAP algorithm is allowed: offered CHAP_A=${quoteForLog(offer)}, allowed ${allowed}`;
      return { ...failure('unsupported-algorithm', reason), reply: [['CHAP_A', 'Reject']] };
    }

    this.algorithm = chosen;
    this.identifier = this.randomBytes(1)[0] ?? 0;
    // Like LIO and open-iscsi: a challenge as long as the digest, fresh from the CSPRNG.
    this.challenge = Buffer.from(this.randomBytes(chapDigestLength(chosen)));
    // Remember our own challenge so that a parallel login cannot reflect it back at us.
    this.replayCache.remember(this.challenge);
    this.phase = 'response';
    return {
      reply: [
        ['CHAP_A', String(chosen)],
        ['CHAP_I', String(this.identifier)],
        ['CHAP_C', encodeChapHex(this.challenge)],
      ],
      state: 'continue',
    };
  }

  private verifyResponse(keys: Map<string, string>): ChapStepResult {
    if (keys.has('CHAP_A')) return failure('protocol', 'CHAP_A received again after the algorithm was chosen');
    const unexpected = firstUnexpected(keys, STEP2_KEYS);
    if (unexpected !== undefined) return failure('protocol', `unexpected key ${unexpected} in the CHAP response`);
    const name = keys.get('CHAP_N');
    const responseText = keys.get('CHAP_R');
    if (name === undefined) return failure('protocol', 'CHAP_N missing from the CHAP response');
    if (responseText === undefined) return failure('protocol', 'CHAP_R missing from the CHAP response');

    const response = decodeChapBinary(responseText);
    if (!response.ok) return failure('malformed', `CHAP_R: ${response.reason}`);
    // A wrong user and a wrong secret take the same path: the expected response is computed and
    // both comparisons run in constant time either way, so neither timing nor answer tells them apart.
    const expected = chapResponse(this.algorithm, this.identifier, this.initiatorSecret, this.challenge);
    const userMatches = constantTimeEqualText(name, this.cfg.initiator.user);
    const lengthMatches = response.value.length === expected.length;
    const responseMatches = timingSafeEqual(lengthMatches ? response.value : expected, expected) && lengthMatches;
    if (userMatches && responseMatches) return this.answerMutual(keys);

    const algorithmName = chapAlgorithmName(this.algorithm);
    const responseProblem = lengthMatches
      ? 'CHAP_R does not match'
      : `CHAP_R is ${response.value.length} bytes, a ${algorithmName} response is ${expected.length}`;
    if (!userMatches) {
      const secret = responseMatches ? 'CHAP_R matches the configured secret' : responseProblem;
      return failure('wrong-user', `CHAP_N ${quoteForLog(name)} is not the configured initiator user; ${secret}`);
    }
    return failure('bad-response', lengthMatches ? `${responseProblem} (wrong secret for user ${quoteForLog(name)}?)` : responseProblem);
  }

  private answerMutual(keys: Map<string, string>): ChapStepResult {
    const idText = keys.get('CHAP_I');
    const challengeText = keys.get('CHAP_C');
    if (idText === undefined && challengeText === undefined) {
      if (this.cfg.mutual !== undefined) {
        return failure('mutual-required', 'mutual CHAP is configured but the initiator did not send CHAP_I/CHAP_C');
      }
      return { reply: [], state: 'success' };
    }
    if (idText === undefined || challengeText === undefined) {
      return failure('protocol', idText === undefined ? 'CHAP_C sent without CHAP_I' : 'CHAP_I sent without CHAP_C');
    }
    if (this.cfg.mutual === undefined || this.mutualSecret === undefined) {
      return failure('mutual-not-configured', 'the initiator asked for mutual CHAP but no target credentials are configured');
    }

    const id = parseChapIdentifier(idText);
    if (!id.ok) return failure('malformed', `${id.reason}: ${quoteForLog(idText)}`);
    const challenge = decodeChapBinary(challengeText);
    if (!challenge.ok) return failure('malformed', `CHAP_C: ${challenge.reason}`);
    if (challenge.value.length < MIN_INITIATOR_CHALLENGE_LENGTH) {
      return failure(
        'challenge-length',
        `initiator CHAP_C is ${challenge.value.length} bytes, at least ${MIN_INITIATOR_CHALLENGE_LENGTH} required`,
      );
    }
    if (challenge.value.equals(this.challenge)) {
      return failure('reflected-challenge', "initiator CHAP_C is the target's own challenge (reflection)");
    }
    if (!this.replayCache.remember(challenge.value)) {
      return failure('replayed-challenge', 'initiator CHAP_C was already seen in a recent login (replay)');
    }

    const answer = chapResponse(this.algorithm, id.value, this.mutualSecret, challenge.value);
    return {
      reply: [
        ['CHAP_N', this.cfg.mutual.user],
        ['CHAP_R', encodeChapHex(answer)],
      ],
      state: 'success',
    };
  }
}

/**
 * The CHAP settings of a target's (or discovery's) `auth` block, or null when
 * it asks for no authentication.
 */
export function chapConfigFromAuth(auth: AuthConfig): ChapTargetConfig | null {
  if (auth.method !== 'chap') return null;
  const cfg: ChapTargetConfig = {
    initiator: { user: auth.user, secret: auth.secret },
    algorithms: [...auth.algorithms],
  };
  if (auth.mutualUser !== undefined && auth.mutualSecret !== undefined) {
    cfg.mutual = { user: auth.mutualUser, secret: auth.mutualSecret };
  }
  return cfg;
}

function failure(code: ChapFailureCode, reason: string): ChapStepResult {
  return { reply: [], state: 'failure', reason, code };
}

function firstUnexpected(keys: Map<string, string>, allowed: ReadonlySet<string>): string | undefined {
  for (const key of keys.keys()) if (!allowed.has(key)) return key;
  return undefined;
}
