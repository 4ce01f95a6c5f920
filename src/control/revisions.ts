import { createHmac, randomBytes } from 'node:crypto';
import { canonicalJson } from '../config/revision.js';

/**
 * Revisions (ETags) of the config and of each resource in it: an HMAC of the content under a key
 * of this process, so that equal content has equal tags while it runs, and a tag never lets anyone
 * test guesses of the CHAP secrets it covers (a plain hash of a small resource would).
 */
export class Revisions {
  constructor(private readonly key: Buffer = randomBytes(32)) {}

  of(value: unknown): string {
    return createHmac('sha256', this.key).update(canonicalJson(value)).digest('base64url').slice(0, 22);
  }
}
