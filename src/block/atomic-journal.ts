import { syncDirectory } from '../shared/atomic-write.js';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  decodeHeader,
  encodeHeader,
  HEADER_FIELD_BYTES,
  RECORD_HEADER_BYTES,
  recordIntact,
  SLOT_BYTES,
  SLOT_DATA_BYTES,
  type RecordHeader,
} from './atomic-journal-format.js';
import { BlockError, type BlockDevice } from './device.js';
import { SgVector } from './sg.js';

/**
 * Crash-safe all-or-nothing writes of up to SLOT_DATA_BYTES (WRITE ATOMIC), by journaling:
 *
 *   1. write a record (header + data, CRC32C over both) into a free slot and fdatasync it;
 *   2. write the data to the LU, durably (the caller's `apply`, FUA);
 *   3. invalidate the slot (zero its header fields) and fdatasync.
 *
 * A crash before 1 is durable leaves nothing on the LU and in the slot no record, a torn one (bad
 * CRC: discarded) or, if every byte happened to reach the disk, an intact one (replayed whole).
 * A crash after it leaves an intact record: replayed whole when the LU is next opened.
 * The caller holds the blocks exclusively from before 1 until 3 is durable, so no later write
 * to them can be issued while the record is still valid: replay never lands over newer data.
 * Replay happens before the LU is served, and clears the journal durably before it returns.
 */

/** Told of a failed journal read or write: the error as the command gets it, and the errno name. */
export type JournalErrorSink = (err: BlockError, errno: string | undefined) => void;

/** A record found in the journal, with its data. */
export interface JournalRecord extends RecordHeader {
  readonly data: Buffer;
}

export interface JournalScan {
  /** Intact records, oldest (lowest sequence) first. */
  readonly valid: JournalRecord[];
  /** Slots with the magic but a bad length or CRC: torn by a crash while being written. */
  readonly torn: number;
}

export interface ReplayReport {
  readonly replayed: RecordHeader[];
  readonly torn: number;
  /** Intact records that do not fit this LU (block size or capacity changed since): not applied. */
  readonly discarded: { readonly record: RecordHeader; readonly why: string }[];
}

/** Slots (atomic writes in flight at once); more wait for a free one. */
export const DEFAULT_JOURNAL_SLOTS = 4;
const MAX_IOV = 1024;
const INVALIDATE_ATTEMPTS = 3;

/**
 * The file is open only while something uses it (shared by concurrent writes, closed when the last
 * one ends): an LU that goes away needs no close hook, and an idle target holds no journal fds.
 */
export class AtomicJournal {
  private readonly free: number[];
  private readonly waiters: ((slot: number) => void)[] = [];
  private nextSeq = 1n;
  private handle: Promise<FileHandle> | undefined;
  private users = 0;

  private constructor(
    readonly path: string,
    readonly slots: number,
    private readonly onError: JournalErrorSink | undefined,
  ) {
    this.free = Array.from({ length: slots }, (_, i) => i);
  }

  /**
   * Makes sure the journal at `path` exists (creating it and its directory, durably). Nothing is
   * replayed yet. `onError` hears of every failed journal read or write (the LU logs and counts them).
   */
  static async open(path: string, slots = DEFAULT_JOURNAL_SLOTS, onError?: JournalErrorSink): Promise<AtomicJournal> {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`journal slots ${slots}`);
    await mkdir(dirname(path), { recursive: true });
    const created = await open(path, 'wx', 0o600).then(
      (fh) => fh.close().then(() => true),
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return false;
        throw err;
      },
    );
    // The file's directory entry must survive a crash, or so would not the records in it.
    if (created) await syncDirectory(dirname(path));
    return new AtomicJournal(path, slots, onError);
  }

  /** Largest atomic write, in blocks of `blockSize`, that one slot holds. */
  static maxBlocks(blockSize: number): number {
    return Math.floor(SLOT_DATA_BYTES / blockSize);
  }

  /** Every slot of the file, read and checked. */
  scan(): Promise<JournalScan> {
    return this.use((fh) => scanFile(fh));
  }

  /**
   * Applies every intact record to `device` (oldest first, so a newer record over the same
   * blocks wins), durably, then empties the journal durably. Call before the LU is served.
   */
  async replay(device: BlockDevice): Promise<ReplayReport> {
    const { valid, torn } = await this.scan();
    const replayed: RecordHeader[] = [];
    const discarded: ReplayReport['discarded'] = [];
    for (const rec of valid) {
      const { data, ...header } = rec;
      if (rec.blockSize !== device.blockSize) {
        discarded.push({ record: header, why: `block size ${rec.blockSize}, LU has ${device.blockSize}` });
      } else if ((rec.lba + rec.blocks) * rec.blockSize > device.size) {
        discarded.push({ record: header, why: `blocks ${rec.lba}+${rec.blocks} beyond capacity` });
      } else {
        await device.write(rec.lba * rec.blockSize, new SgVector([data]), { fua: true });
        replayed.push(header);
      }
      if (rec.seq >= this.nextSeq) this.nextSeq = rec.seq + 1n;
    }
    await this.use(async (fh) => {
      if ((await fh.stat()).size === 0) return;
      await fh.truncate(0);
      await fh.sync();
    });
    return { replayed, torn, discarded };
  }

  /**
   * Journals `data` (whole blocks at `lba`), runs `apply` (which must make the data durable on
   * the LU), then invalidates the record. The caller holds [lba, lba + blocks) exclusively for
   * the whole call. Once the record is durable `apply` runs to the end whatever happens; if it
   * fails the record is still invalidated (the failure is reported, not replayed later over
   * data written since). Journal I/O failures reject with a BlockError (IO_ERROR / NO_SPACE).
   */
  async commit(lba: number, blocks: number, blockSize: number, data: SgVector, apply: () => Promise<void>): Promise<void> {
    const slot = await this.acquire();
    try {
      await this.use((fh) => this.journaled(fh, slot, lba, blocks, blockSize, data, apply));
    } finally {
      this.release(slot);
    }
  }

  private async journaled(
    fh: FileHandle,
    slot: number,
    lba: number,
    blocks: number,
    blockSize: number,
    data: SgVector,
    apply: () => Promise<void>,
  ): Promise<void> {
    const segments = data.segments;
    const header = encodeHeader({ seq: this.nextSeq++, lba, blocks, blockSize }, segments);
    try {
      await writeAll(fh, [header, ...segments], slot * SLOT_BYTES);
      await fh.datasync();
    } catch (err) {
      // Not durable: the write does not happen (apply never runs) and the initiator gets the error.
      await invalidate(fh, slot).catch(() => undefined);
      throw this.failed(err);
    }
    let applied = false;
    try {
      await apply();
      applied = true;
    } finally {
      // After a failed apply the original error wins; after a good one a failed invalidation must be reported.
      await invalidateRetrying(fh, slot).catch((err: unknown) => {
        if (applied) throw this.failed(err);
      });
    }
  }

  /** Runs `fn` with the file open, opening it for the first user and closing it after the last. */
  private async use<T>(fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    this.users++;
    try {
      const fh = await (this.handle ??= open(this.path, 'r+'));
      return await fn(fh);
    } catch (err) {
      // A BlockError is the LU's own (apply), already counted by its queue, or one reported below.
      throw err instanceof BlockError ? err : this.failed(err);
    } finally {
      if (--this.users === 0) {
        const h = this.handle;
        this.handle = undefined;
        await h?.then((fh) => fh.close()).catch(() => undefined);
      }
    }
  }

  /** A journal I/O failure as a BlockError, reported once. */
  private failed(err: unknown): BlockError {
    const e = journalError(this.path, err);
    if (!(err instanceof BlockError)) this.onError?.(e, (err as NodeJS.ErrnoException | undefined)?.code);
    return e;
  }

  private acquire(): Promise<number> {
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** FIFO hand-off to the oldest waiter. */
  private release(slot: number): void {
    const next = this.waiters.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}

/** Every slot of the file, read and checked. */
async function scanFile(fh: FileHandle): Promise<JournalScan> {
  const { size } = await fh.stat();
  const valid: JournalRecord[] = [];
  let torn = 0;
  for (let at = 0; at < size; at += SLOT_BYTES) {
    const head = Buffer.alloc(HEADER_FIELD_BYTES);
    await readAll(fh, head, at);
    const state = decodeHeader(head);
    if (state.kind === 'empty') continue;
    if (state.kind === 'torn') {
      torn++;
      continue;
    }
    const data = Buffer.alloc(state.header.blocks * state.header.blockSize);
    const got = await readAll(fh, data, at + RECORD_HEADER_BYTES);
    if (got === data.length && recordIntact(head, state, data)) valid.push({ ...state.header, data });
    else torn++;
  }
  valid.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  return { valid, torn };
}

function journalError(path: string, err: unknown): BlockError {
  if (err instanceof BlockError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = `atomic journal ${path}: ${err instanceof Error ? err.message : String(err)}`;
  return new BlockError(code === 'ENOSPC' || code === 'EDQUOT' ? 'NO_SPACE' : 'IO_ERROR', message, { cause: err });
}

/** Writes every byte of `views` at `position`, looping on short writes, at most IOV_MAX views per call. */
async function writeAll(fh: FileHandle, views: readonly Buffer[], position: number): Promise<void> {
  let rest = views.filter((v) => v.length > 0);
  while (rest.length > 0) {
    const batch = rest.slice(0, MAX_IOV);
    const { bytesWritten } = await fh.writev(batch, position);
    if (bytesWritten <= 0) throw new Error(`write at ${position} made no progress`);
    position += bytesWritten;
    rest = skip(rest, bytesWritten);
  }
}

function skip(views: readonly Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < views.length && views[i]!.length <= n) n -= views[i++]!.length;
  const rest = views.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/** Reads up to `into.length` bytes at `position`; fewer only at end of file. Returns the count. */
async function readAll(fh: FileHandle, into: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead <= 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * Invalidation that tries again (rewriting the zeros, so a later fdatasync really covers them)
 * before giving up: a record left valid after the blocks are unlocked could be replayed over a
 * newer write if the target then crashed. If it still fails the command reports the error.
 */
async function invalidateRetrying(fh: FileHandle, slot: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await invalidate(fh, slot);
    } catch (err) {
      if (attempt >= INVALIDATE_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}

/** Zeroes a slot's header fields, durably: the record is gone. */
async function invalidate(fh: FileHandle, slot: number): Promise<void> {
  await writeAll(fh, [Buffer.alloc(HEADER_FIELD_BYTES)], slot * SLOT_BYTES);
  await fh.datasync();
}
