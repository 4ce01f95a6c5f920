import { BackstoreError } from '../block/backstore-error.js';

/**
 * The checks every online resize shares: a whole number of blocks, more than nothing, and no
 * shrink (the blocks past the new end would be lost, and initiators still address them) unless
 * explicitly allowed.
 */
export function checkResize(path: string, current: number, next: number, blockSize: number, allowShrink: boolean): void {
  if (!Number.isSafeInteger(next) || next <= 0 || next % blockSize !== 0) {
    throw new BackstoreError('EINVAL', `${path}: new size ${next} is not a positive multiple of the block size ${blockSize}`);
  }
  if (next < current && !allowShrink) {
    throw new BackstoreError(
      'EINVAL',
      `${path}: shrinking from ${current} to ${next} bytes would lose the data past the new end; refused (force the shrink to allow it)`,
    );
  }
}
