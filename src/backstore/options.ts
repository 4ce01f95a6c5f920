/**
 * The options of each backstore kind, in one place: its config entry (config/schema.ts documents
 * every key) with the same names, all optional but what identifies the storage (tests and tools
 * open with less), plus what the LUN around it adds.
 */
import type { BackstoreConfig } from '../config/schema.js';
import type { BackingRecords } from './backing-record.js';

type ConfigOf<T extends BackstoreConfig['type']> = Omit<Extract<BackstoreConfig, { type: T }>, 'type'>;

/** The LU is write-protected: nothing is created, grown or written. */
interface LunSide {
  readonly readOnly?: boolean;
}

/**
 * A file: `writeCache` is the SCSI core's (the caching mode page); the file backstore only makes
 * durable what a request asks to be.
 */
export type FileBackstoreOptions = Pick<ConfigOf<'file'>, 'path'> &
  Partial<Omit<ConfigOf<'file'>, 'path' | 'blockSize' | 'writeCache'>> &
  LunSide & {
    /** A power of two >= 512 (the config offers 512 and 4096); default 512. */
    readonly blockSize?: number;
    /**
     * Where the file's existence and size are remembered across restarts (backing-record.ts). With
     * it, a file Scatter served before that is now missing or shorter is refused (see `create`).
     */
    readonly records?: BackingRecords;
  };

/** A block device: `writeCache: false` (WCE = 0 from the start) opens it O_DSYNC, so durable writes need no fdatasync. */
export type BlockBackstoreOptions = Pick<ConfigOf<'block'>, 'path'> & Partial<Pick<ConfigOf<'block'>, 'writeCache'>> & LunSide;

export type NullBackstoreOptions = Pick<ConfigOf<'null'>, 'size'> & {
  /** A power of two >= 512; default 512. */
  readonly blockSize?: number;
};
