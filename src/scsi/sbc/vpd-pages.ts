import type { VpdContext, VpdPage } from '../device-type.js';
import { MAX_COMPARE_AND_WRITE_BLOCKS } from './compare-and-write.js';
import { optimalTransferGranularity } from './geometry.js';
import { maxUnmapBlocks, maxWriteSameBlocks, ProvisioningLimits, unmapGranularityAlignment, unmapGranularityBlocks } from './provisioning.js';
import { atomicLimits } from './write-atomic.js';

const VPD_BLOCK_LIMITS = 0xb0;
const VPD_BLOCK_DEVICE_CHARACTERISTICS = 0xb1;
const VPD_LOGICAL_BLOCK_PROVISIONING = 0xb2;

/**
 * Block limits (SBC-3, page length 3Ch). WSNZ = 0 (WRITE SAME with 0 blocks runs to the end),
 * MAXIMUM WRITE SAME LENGTH always; the UNMAP limits only on a thin LU.
 */
function blockLimits({ lu }: VpdContext): Buffer {
  const b = Buffer.alloc(0x3c);
  // Offsets below are page offsets minus the 4-byte header.
  b[1] = Math.min(MAX_COMPARE_AND_WRITE_BLOCKS, lu.maxTransferLength); // MAXIMUM COMPARE AND WRITE LENGTH (5)
  b.writeUInt16BE(optimalTransferGranularity(lu), 2); // OPTIMAL TRANSFER LENGTH GRANULARITY (page bytes 6-7)
  b.writeUInt32BE(lu.maxTransferLength, 4); // MAXIMUM TRANSFER LENGTH (8-11)
  b.writeUInt32BE(lu.maxTransferLength, 8); // OPTIMAL TRANSFER LENGTH (12-15)
  if (lu.thin) {
    b.writeUInt32BE(maxUnmapBlocks(lu), 16); // MAXIMUM UNMAP LBA COUNT (20-23)
    b.writeUInt32BE(ProvisioningLimits.maxUnmapDescriptors, 20); // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (24-27)
    b.writeUInt32BE(unmapGranularityBlocks(lu), 24); // OPTIMAL UNMAP GRANULARITY (28-31)
    const alignment = unmapGranularityAlignment(lu);
    if (alignment !== undefined) b.writeUInt32BE((0x80000000 | alignment) >>> 0, 28); // UGAVALID + UNMAP GRANULARITY ALIGNMENT (32-35)
  }
  b.writeBigUInt64BE(BigInt(maxWriteSameBlocks(lu)), 32); // MAXIMUM WRITE SAME LENGTH (36-43)
  const atomic = atomicLimits(lu); // 0 where WRITE ATOMIC(16) is not offered
  if (atomic) {
    b.writeUInt32BE(atomic.maxBlocks, 40); // MAXIMUM ATOMIC TRANSFER LENGTH (44-47)
    b.writeUInt32BE(atomic.alignment, 44); // ATOMIC ALIGNMENT (48-51)
    b.writeUInt32BE(atomic.granularity, 48); // ATOMIC TRANSFER LENGTH GRANULARITY (52-55)
  }
  return b;
}

/**
 * Block device characteristics (SBC-3): MEDIUM ROTATION RATE 1 = non-rotating medium. WABEREQ = 01b
 * on thin LUs, which offer SANITIZE BLOCK ERASE: reads after it succeed (zeros, LBPRZ).
 */
function blockDeviceCharacteristics({ lu }: VpdContext): Buffer {
  const b = Buffer.alloc(0x3c);
  b.writeUInt16BE(0x0001, 0);
  if (lu.thin) b[3] = 0x40; // page byte 7: WABEREQ (7-6)
  return b;
}

/**
 * Logical block provisioning (SBC-4), thin LUs only: LBPU (UNMAP), LBPWS / LBPWS10 (WRITE SAME
 * with UNMAP), LBPRZ = 001b where deallocated blocks read as zeros (000b where the device's
 * discard does not promise it), no anchoring, PROVISIONING TYPE thin.
 */
function logicalBlockProvisioning({ lu }: VpdContext): Buffer {
  const b = Buffer.alloc(4);
  b[1] = 0x80 | 0x40 | 0x20 | (lu.lbprz ? 0x04 : 0);
  b[2] = 0x02;
  return b;
}

/** The VPD pages SBC adds to SPC's. */
export const SBC_VPD_PAGES: readonly VpdPage[] = [
  { code: VPD_BLOCK_LIMITS, build: blockLimits },
  { code: VPD_BLOCK_DEVICE_CHARACTERISTICS, build: blockDeviceCharacteristics },
  { code: VPD_LOGICAL_BLOCK_PROVISIONING, build: logicalBlockProvisioning, when: (lu) => lu.thin },
];
