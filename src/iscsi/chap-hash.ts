import { createHash } from 'node:crypto';
import { CHAP_ALGORITHMS, type ChapAlgorithm } from '../shared/chap-algorithms.js';

export { CHAP_ALGORITHMS, type ChapAlgorithm };

interface AlgorithmInfo {
  readonly name: string;
  /** node:crypto (OpenSSL) digest name. */
  readonly hash: string;
  readonly digestLength: number;
}

const ALGORITHMS: Readonly<Record<ChapAlgorithm, AlgorithmInfo>> = {
  5: { name: 'MD5', hash: 'md5', digestLength: 16 },
  6: { name: 'SHA-1', hash: 'sha1', digestLength: 20 },
  7: { name: 'SHA-256', hash: 'sha256', digestLength: 32 },
  8: { name: 'SHA3-256', hash: 'sha3-256', digestLength: 32 },
};

export function isChapAlgorithm(n: number): n is ChapAlgorithm {
  return n === 5 || n === 6 || n === 7 || n === 8;
}

export function chapAlgorithmName(algorithm: ChapAlgorithm): string {
  return ALGORITHMS[algorithm].name;
}

export function chapDigestLength(algorithm: ChapAlgorithm): number {
  return ALGORITHMS[algorithm].digestLength;
}

const availability = new Map<ChapAlgorithm, boolean>();

/**
 * Whether this Node/OpenSSL build can compute the digest: an OpenSSL in FIPS
 * mode refuses MD5 when the hash is created, even though it lists it.
 */
export function chapAlgorithmAvailable(algorithm: ChapAlgorithm): boolean {
  let ok = availability.get(algorithm);
  if (ok === undefined) {
    try {
      createHash(ALGORITHMS[algorithm].hash).update('probe').digest();
      ok = true;
    } catch {
      ok = false;
    }
    availability.set(algorithm, ok);
  }
  return ok;
}

/** The CHAP response of RFC 1994 §4.1: H(identifier octet || secret || challenge). */
export function chapResponse(algorithm: ChapAlgorithm, identifier: number, secret: Buffer, challenge: Buffer): Buffer {
  return createHash(ALGORITHMS[algorithm].hash)
    .update(Buffer.of(identifier & 0xff))
    .update(secret)
    .update(challenge)
    .digest();
}
