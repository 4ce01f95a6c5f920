/** Block device geometry as the kernel reports it, turned into what READ CAPACITY(16) can express. */
import { isPhysicalBlockSize, MAX_LOGICAL_PER_PHYSICAL } from '../shared/block-size.js';

/** BLKPBSZGET, sanitised: a power-of-two multiple of the logical block size (the LBPPBE field can say nothing else). */
export function physicalBlockSizeOf(lbs: number, reported: number): number {
  // A size beyond the field's reach is reported as the largest it can say.
  const capped = Math.min(reported, lbs * MAX_LOGICAL_PER_PHYSICAL);
  return (reported & (reported - 1)) === 0 && isPhysicalBlockSize(lbs, capped) ? capped : lbs;
}

/**
 * LOWEST ALIGNED LBA from BLKALIGNOFF (bytes from the device start to the first physical block
 * boundary; Linux's sd reads the field back as that many logical blocks). -1 (misaligned), a
 * partial block offset or one beyond the 14-bit field cannot be expressed: 0.
 */
export function lowestAlignedLba(offset: number, lbs: number, pbs: number): number {
  if (offset <= 0 || offset % lbs !== 0) return 0;
  const lba = (offset / lbs) % (pbs / lbs);
  return lba <= 0x3fff ? lba : 0; // the field is 14 bits wide
}
