import { BackstoreError, type BackstoreErrorCode } from './backstore-error.js';
import { BlockError, type BlockErrorCode } from './device.js';

const FROM_BACKSTORE: Record<BackstoreErrorCode, BlockErrorCode> = {
  EIO: 'IO_ERROR',
  ENOSPC: 'NO_SPACE',
  EROFS: 'READ_ONLY',
  // A device that shrank underneath: the request is past its new end (LBA OUT OF RANGE).
  ERANGE: 'OUT_OF_RANGE',
  // The queue validates ranges itself, so these here are a failed I/O.
  EINVAL: 'IO_ERROR',
  ECLOSED: 'IO_ERROR',
  ENOENT: 'IO_ERROR',
  EACCES: 'IO_ERROR',
  EBUSY: 'IO_ERROR',
};

/**
 * Whatever went wrong below the block layer, as the BlockError the SCSI core maps to sense. A
 * BackstoreError's message is taken over as is (it already names the path, the call and the
 * errno), not attached as the cause, so that a logged error says it once.
 */
export function toBlockError(err: unknown): BlockError {
  if (err instanceof BlockError) return err;
  if (err instanceof BackstoreError) return new BlockError(FROM_BACKSTORE[err.code], err.message);
  const message = err instanceof Error ? err.message : String(err);
  return new BlockError('IO_ERROR', message, { cause: err });
}
