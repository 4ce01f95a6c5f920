import { createHash } from 'node:crypto';

/**
 * Recently seen CHAP challenges, shared by every login of the process.
 *
 * A challenge the target has already answered (or issued itself) must not be
 * answered again: an attacker could otherwise collect the target's responses
 * and replay them, or reflect the target's own challenge from a parallel login.
 * Random challenges from honest initiators never repeat in practice.
 *
 * Bounded: at most `capacity` entries, oldest forgotten first. Entries are a
 * fixed-size digest of the challenge, so memory does not depend on what the
 * peer sends (challenges can be up to 1024 bytes).
 */
export class ChallengeCache {
  private readonly seen = new Set<string>();

  constructor(readonly capacity = 4096) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`ChallengeCache capacity must be a positive integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.seen.size;
  }

  has(challenge: Buffer): boolean {
    return this.seen.has(ChallengeCache.key(challenge));
  }

  /** Record the challenge; false when it was already recorded (a replay). */
  remember(challenge: Buffer): boolean {
    const key = ChallengeCache.key(challenge);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.capacity) {
      // A Set iterates in insertion order: the first entry is the oldest.
      const oldest = this.seen.values().next();
      if (oldest.done !== true) this.seen.delete(oldest.value);
    }
    return true;
  }

  private static key(challenge: Buffer): string {
    return createHash('sha256').update(challenge).digest('base64');
  }
}

/** The process-wide cache used when a login does not bring its own. */
export const sharedChallengeCache = new ChallengeCache();
