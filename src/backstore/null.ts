import type { Backstore, DiscardRange, ResizeRequest } from '../block/backstore.js';
import { BackstoreError } from '../block/backstore-error.js';
import type { Bio } from '../block/bio.js';
import { defaultLimits, type QueueLimits } from '../block/limits.js';
import { isLogicalBlockSize } from '../shared/block-size.js';
import { checkRange } from './fd-lifecycle.js';
import type { NullBackstoreOptions } from './options.js';
import { checkResize } from './resize.js';

const NAME = 'null backstore';

/** Accepts writes and drops them, reads zeros: measures the transport and the block layer alone. */
export class NullBackstore implements Backstore {
  readonly kind = 'null' as const;
  readonly readOnly = false;
  readonly thin = false;
  readonly keepsData = false;
  size: number;
  readonly blockSize: number;
  readonly limits: QueueLimits;
  private closed = false;

  constructor(opts: NullBackstoreOptions) {
    const { size, blockSize = 512 } = opts;
    if (!isLogicalBlockSize(blockSize)) {
      throw new BackstoreError('EINVAL', `${NAME}: block size ${blockSize} is not a power of two >= 512`);
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size % blockSize !== 0) {
      throw new BackstoreError('EINVAL', `${NAME}: size ${size} is not a positive multiple of ${blockSize}`);
    }
    this.size = size;
    this.blockSize = blockSize;
    this.limits = defaultLimits(blockSize);
  }

  async readv(bio: Bio): Promise<void> {
    this.check(bio.offset, bio.length);
    for (const s of bio.segments) s.fill(0);
  }

  async writev(bio: Bio, _durable: boolean): Promise<void> {
    this.check(bio.offset, bio.length);
  }

  async flush(): Promise<void> {
    this.check(0, 0);
  }

  async discard(ranges: readonly DiscardRange[]): Promise<void> {
    for (const r of ranges) this.check(r.offset, r.length);
  }

  /** Nothing is stored, so only the capacity changes (a shrink still needs allowShrink). */
  async resize(to: ResizeRequest): Promise<number> {
    this.check(0, 0);
    const next = to.size ?? this.size;
    checkResize(NAME, this.size, next, this.blockSize, to.allowShrink === true);
    this.size = next;
    return next;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(offset: number, length: number): void {
    if (this.closed) throw new BackstoreError('ECLOSED', `${NAME}: closed`);
    checkRange(NAME, this.size, offset, length);
  }
}
