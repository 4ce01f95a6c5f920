import type { BlockDevice, BlockReadResult } from './device.js';
import { BlockError } from './device.js';
import type { DeviceHealth } from './health.js';

/**
 * The block device of an LU whose storage could not be opened (a missing device, an unusable
 * path, a backing file that vanished): no capacity, offline with the reason in `health`, every
 * I/O refused. The SCSI core answers NOT READY from the health before any of it is called.
 */
export class FailedDevice implements BlockDevice {
  readonly size = 0;

  constructor(
    readonly blockSize: number,
    readonly readOnly: boolean,
    readonly health: DeviceHealth,
  ) {}

  read(): Promise<BlockReadResult> {
    return Promise.reject(this.refusal());
  }

  write(): Promise<void> {
    return Promise.reject(this.refusal());
  }

  flush(): Promise<void> {
    return Promise.reject(this.refusal());
  }

  async close(): Promise<void> {}

  private refusal(): BlockError {
    return new BlockError('OFFLINE', this.health.offline?.message ?? 'storage not opened');
  }
}
