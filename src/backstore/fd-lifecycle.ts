import type { FileHandle } from 'node:fs/promises';
import type { Bio } from '../block/bio.js';
import { BackstoreError } from '../block/backstore-error.js';
import { SlotList } from '../shared/slot-list.js';
import { fromErrno } from './file-io.js';

/**
 * What the fd-backed backstores (file, block) share: every operation is tracked so
 * close() can wait for I/O under way, errors become BackstoreErrors naming the path,
 * and nothing starts once closing has begun.
 */
export class FdLifecycle {
  private readonly pending = new SlotList<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  op(body: () => Promise<void>, what: string): Promise<void> {
    if (this.closing) return Promise.reject(new BackstoreError('ECLOSED', `${this.path}: closed`));
    let p: Promise<void>;
    try {
      p = body();
    } catch (err) {
      p = Promise.reject(err as Error);
    }
    // No async frame of its own: this runs for every bio.
    let slot = -1;
    const tracked: Promise<void> = p.then(
      () => {
        this.pending.remove(slot);
      },
      (err: unknown) => {
        this.pending.remove(slot);
        throw err instanceof BackstoreError ? err : fromErrno(err, `${this.path}: ${what}`);
      },
    );
    slot = this.pending.add(tracked);
    return tracked;
  }

  /** Whether close() has begun. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Resolves once every operation under way has settled (a shrink waits for I/O past the new end). */
  async idle(): Promise<void> {
    await Promise.allSettled(this.pending.values());
  }

  /** Waits for I/O under way, runs `beforeClose` (make written data durable), closes the fd. */
  close(beforeClose: () => Promise<void>): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled(this.pending.values());
      try {
        await beforeClose();
      } finally {
        await this.fh.close();
      }
    })().catch((err: unknown) => {
      throw fromErrno(err, `${this.path}: close`);
    });
    return this.closing;
  }
}

export function checkRange(path: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > size) {
    throw new BackstoreError('EINVAL', `${path}: range ${offset}+${length} outside 0..${size}`);
  }
}

export function checkBio(path: string, size: number, bio: Bio): void {
  let total = 0;
  for (const s of bio.segments) total += s.length;
  if (total !== bio.length) throw new BackstoreError('EINVAL', `bio segments hold ${total} bytes, length says ${bio.length}`);
  checkRange(path, size, bio.offset, bio.length);
}
