import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BackstoreError } from '../block/backstore-error.js';
import { fileCallsAvailable } from '../native/file-calls.js';
import { isLogicalBlockSize, isPhysicalBlockSize } from '../shared/block-size.js';
import type { BackingRecord, BackingRecords, CreatePolicy } from './backing-record.js';
import { errnoCode, fromErrno } from './file-io.js';
import type { FileBackstoreOptions } from './options.js';

/** What opening found, for the log. */
export interface FileOpenReport {
  /** The file did not exist and was created (sparse). */
  readonly created: boolean;
  /** The file was shorter than the configured size and was grown (sparse) from this many bytes. */
  readonly grownFrom: number | undefined;
  /** Size of the file when it was last served, from its record (undefined: never recorded). */
  readonly recordedSize: number | undefined;
}

/** A backing file opened, sized and recorded, ready to be served. */
export interface OpenedFile {
  readonly fh: FileHandle;
  readonly capacity: number;
  readonly blockSize: number;
  readonly physicalBlockSize: number;
  readonly report: FileOpenReport;
  /** Where the file's size is recorded; none for read-only LUs and unit tests. */
  readonly records: BackingRecords | undefined;
}

/**
 * Checks the options, opens the file (creating or growing it sparse as `create` and its record
 * allow), records its size and reopens it O_DIRECT where asked. Rejects with a BackstoreError.
 */
export async function openBackingFile(opts: FileBackstoreOptions): Promise<OpenedFile> {
  const { path, size, blockSize = 512, readOnly = false, thin = false, direct = false } = opts;
  if (!isLogicalBlockSize(blockSize)) {
    throw new BackstoreError('EINVAL', `${path}: block size ${blockSize} is not a power of two >= 512`);
  }
  const physicalBlockSize = opts.physicalBlockSize ?? blockSize;
  if (!isPhysicalBlockSize(blockSize, physicalBlockSize)) {
    throw new BackstoreError('EINVAL', `${path}: physical block size ${physicalBlockSize} is not a power-of-two multiple of ${blockSize}`);
  }
  if (size !== undefined && (!Number.isSafeInteger(size) || size <= 0 || size % blockSize !== 0)) {
    throw new BackstoreError('EINVAL', `${path}: size ${size} is not a positive multiple of the block size ${blockSize}`);
  }
  if (thin && !fileCallsAvailable()) {
    throw new BackstoreError('EINVAL', `${path}: thin provisioning needs fallocate(PUNCH_HOLE) and SEEK_DATA (Linux, koffi)`);
  }
  const create = opts.create ?? 'once';
  // A read-only LU never creates, grows or writes its file: nothing to remember about it.
  const records = readOnly ? undefined : opts.records;
  const record = await records?.read(path);
  const opened = await openOrCreate(path, readOnly, size, create, record, records);
  let fh = opened.fh;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new BackstoreError('EINVAL', `${path}: not a regular file`);
    let fileSize = st.size;
    if (record && fileSize < record.size && create !== 'always') {
      throw new BackstoreError(
        'EIO',
        `${path}: the backing file is ${fileSize} bytes, shorter than the ${record.size} bytes it had when Scatter last served it ` +
          `(recorded in ${records!.fileFor(path)}): it was truncated, and growing it back would serve zeros for the lost blocks. ` +
          'Restore the file, or set `create: always` on this backstore to grow it back anyway',
        { fault: 'truncated' },
      );
    }
    let grownFrom: number | undefined;
    if (size !== undefined && fileSize < size) {
      if (readOnly) throw new BackstoreError('EINVAL', `${path}: read-only file is smaller (${fileSize}) than size ${size}`);
      await fh.truncate(size); // grows sparse: no data blocks are written
      if (!opened.created) grownFrom = fileSize;
      fileSize = size;
    }
    // A file whose length is not a whole number of blocks serves only its whole blocks.
    const capacity = Math.floor(fileSize / blockSize) * blockSize;
    if (capacity === 0) throw new BackstoreError('EINVAL', `${path}: file is smaller than one block; give a size`);
    // Recorded once the file is as it will be served: a crash before leaves no record (a newcomer again).
    if (records && record?.size !== fileSize) await records.write(path, fileSize);
    if (direct) fh = await reopenDirect(fh, path, readOnly);
    const report = { created: opened.created, grownFrom, recordedSize: record?.size };
    return { fh, capacity, blockSize, physicalBlockSize, report, records };
  } catch (err) {
    await fh.close().catch(() => {});
    throw err instanceof BackstoreError ? err : fromErrno(err, `${path}: open`);
  }
}

async function openOrCreate(
  path: string,
  readOnly: boolean,
  size: number | undefined,
  create: CreatePolicy,
  record: BackingRecord | undefined,
  records: BackingRecords | undefined,
): Promise<{ fh: FileHandle; created: boolean }> {
  try {
    return { fh: await open(path, readOnly ? 'r' : 'r+'), created: false };
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' || readOnly || size === undefined) throw fromErrno(err, `${path}: open`);
    if (create === 'never') throw fromErrno(err, `${path}: open (create: never)`);
    if (record && create !== 'always') {
      throw new BackstoreError(
        'ENOENT',
        `${path}: the backing file is gone, but Scatter served it before (${record.size} bytes, recorded in ${records!.fileFor(path)}); ` +
          'an empty new file would hide the loss. Restore the file, or set `create: always` on this backstore to start over with an empty one',
        { errno: 'ENOENT' },
      );
    }
  }
  try {
    // The directory (e.g. ./data on first start) is created with the file.
    await mkdir(dirname(path), { recursive: true });
    return { fh: await open(path, 'wx+'), created: true }; // exclusive: never truncate a file someone else just created
  } catch (err) {
    throw fromErrno(err, `${path}: create`);
  }
}

/**
 * Created and sized through the ordinary open; served through a second, O_DIRECT one, which
 * bypasses the page cache (addresses, lengths and offsets must then be aligned to the block
 * size, which must be at least the file system's: limits.alignment has the block layer bounce
 * whatever is not).
 */
async function reopenDirect(fh: FileHandle, path: string, readOnly: boolean): Promise<FileHandle> {
  await fh.close();
  try {
    return await open(path, (readOnly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_DIRECT);
  } catch (err) {
    throw fromErrno(err, `${path}: open O_DIRECT (the file system may not support it)`);
  }
}
