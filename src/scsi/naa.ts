import { createHash } from 'node:crypto';

/**
 * A 16-byte NAA IEEE Registered Extended designator (NAA = 6h, SPC-4) that stays
 * the same across restarts: 24-bit IEEE company id, then 100 bits taken from a SHA-256 of
 * "<target IQN>\0<lun>". Pass your organisation's OUI as `companyId` if it has one.
 */
export function deriveNaaId(targetName: string, lun: number, companyId = 0): Buffer {
  if (!Number.isInteger(companyId) || companyId < 0 || companyId > 0xffffff) {
    throw new RangeError(`companyId ${companyId} is not a 24-bit value`);
  }
  const hash = createHash('sha256').update(`${targetName}\0${lun}`).digest();
  const id = Buffer.alloc(16);
  // NAA(4) | company id(24) | vendor specific identifier(36) | vendor specific extension(64)
  id[0] = 0x60 | (companyId >>> 20);
  id[1] = (companyId >>> 12) & 0xff;
  id[2] = (companyId >>> 4) & 0xff;
  id[3] = ((companyId & 0x0f) << 4) | (hash[0] & 0x0f);
  hash.copy(id, 4, 1, 13);
  return id;
}
