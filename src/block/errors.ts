import { BackstoreError, type BackstoreErrorCode } from '../backstore/backstore.js';
import { BlockError, type BlockErrorCode } from './device.js';

const FROM_BACKSTORE: Record<BackstoreErrorCode, BlockErrorCode> = {
  EIO: 'IO_ERROR',
  ENOSPC: 'NO_SPACE',
  EROFS: 'READ_ONLY',
  // The queue validates ranges itself, so EINVAL or a closed backstore here is a failed I/O.
  EINVAL: 'IO_ERROR',
  ECLOSED: 'IO_ERROR',
};

/** Whatever went wrong below the block layer, as the BlockError the SCSI core maps to sense. */
export function toBlockError(err: unknown): BlockError {
  if (err instanceof BlockError) return err;
  if (err instanceof BackstoreError) return new BlockError(FROM_BACKSTORE[err.code], err.message, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new BlockError('IO_ERROR', message, { cause: err });
}
