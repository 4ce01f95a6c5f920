import type { CommandHandler } from '../handler.js';
import { compareAndWrite, orWrite16 } from './compare-and-write.js';
import { getLbaStatus } from './get-lba-status.js';
import { prefetch10, prefetch16 } from './prefetch.js';
import { readCapacity10, readCapacity16 } from './read-capacity.js';
import { readDefectData10, readDefectData12 } from './read-defect-data.js';
import { readHandler, writeHandler } from './read-write.js';
import { sanitizeHandlers } from './sanitize.js';
import { preventAllowMediumRemoval, startStopUnit } from './start-stop.js';
import { synchronizeCache10, synchronizeCache16 } from './synchronize-cache.js';
import { unmap } from './unmap.js';
import { verifyHandler, writeAndVerifyHandler } from './verify.js';
import { writeAtomic16 } from './write-atomic.js';
import { writeSame10, writeSame16 } from './write-same.js';

/** The commands of a direct-access block device (SBC-4). */
export const SBC_COMMANDS: readonly CommandHandler[] = Object.freeze([
  readCapacity10,
  readCapacity16,
  readHandler(6),
  readHandler(10),
  readHandler(12),
  readHandler(16),
  writeHandler(6),
  writeHandler(10),
  writeHandler(12),
  writeHandler(16),
  synchronizeCache10,
  synchronizeCache16,
  verifyHandler(10),
  verifyHandler(12),
  verifyHandler(16),
  writeAndVerifyHandler(10),
  writeAndVerifyHandler(12),
  writeAndVerifyHandler(16),
  prefetch10,
  prefetch16,
  startStopUnit,
  preventAllowMediumRemoval,
  readDefectData10,
  readDefectData12,
  writeSame10,
  writeSame16,
  unmap,
  getLbaStatus,
  compareAndWrite,
  orWrite16,
  ...sanitizeHandlers,
  writeAtomic16,
]);
