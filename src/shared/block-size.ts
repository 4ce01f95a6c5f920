/**
 * What block sizes a LU can report, in one place for the config schema and the backstores.
 * READ CAPACITY(16) says LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT in 4 bits: a physical block is
 * the logical one times a power of two up to 2^15.
 */

export const MAX_LOGICAL_PER_PHYSICAL = 2 ** 15;

/** A logical block size: a power of two of at least 512 bytes. */
export function isLogicalBlockSize(size: number): boolean {
  return Number.isSafeInteger(size) && size >= 512 && (size & (size - 1)) === 0;
}

/** `physical` is `logical` times a power of two, at most 2^15. */
export function isPhysicalBlockSize(logical: number, physical: number): boolean {
  const ratio = physical / logical;
  return Number.isInteger(ratio) && ratio >= 1 && ratio <= MAX_LOGICAL_PER_PHYSICAL && (ratio & (ratio - 1)) === 0;
}
