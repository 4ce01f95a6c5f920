/**
 * One place that knows the backstore kinds: from a LUN's config entry, what the LU built on it
 * needs to know before opening (also for an LU whose storage then fails to open), and how to open
 * it. Nothing above this module branches on the backstore type.
 */
import { dirname, join } from 'node:path';
import type { Backstore } from '../block/backstore.js';
import { BackstoreError } from '../block/backstore-error.js';
import type { BackstoreConfig } from '../config/schema.js';
import { BackingRecords } from './backing-record.js';
import { BlockBackstore } from './block.js';
import { FileBackstore, type FileOpenReport } from './file.js';
import { NullBackstore } from './null.js';

/** What the LUN around a backstore decides. */
export interface BackstoreContext {
  readonly readOnly: boolean;
  /** config.stateDir: backing file records, and the state of LUs whose storage has no directory of its own. */
  readonly stateDir: string;
}

/** A backstore as its config describes it, before it is opened. */
export interface ConfiguredBackstore {
  readonly type: BackstoreConfig['type'];
  /** The backing file or device; none for null. */
  readonly path: string | undefined;
  /** Logical block size as configured; a block device says its own once open (512 until then). */
  readonly blockSize: number;
  /** Initial WCE bit of the caching mode page (null: on, it keeps nothing anyway). */
  readonly writeCache: boolean;
  /**
   * Directory of the LU's state that must survive a restart (APTPL reservations, the atomic-write
   * journal, the sanitize marker): beside a backing file; the configured stateDir for a device
   * (a device node's directory, /dev, is no place for it); none for null, which keeps nothing.
   */
  readonly lunStateDir: string | undefined;
  /** Rejects with a BackstoreError. */
  open(): Promise<OpenedBackstore>;
}

export interface OpenedBackstore {
  readonly backstore: Backstore;
  /** What opening a backing file found (created, grown), for the log; undefined for other kinds. */
  readonly fileReport: FileOpenReport | undefined;
}

/** Throws a BackstoreError (EINVAL) for a type it does not know (the config schema lets none through). */
export function configuredBackstore(config: BackstoreConfig, ctx: BackstoreContext): ConfiguredBackstore {
  switch (config.type) {
    case 'file': {
      const { type: _type, writeCache, ...options } = config;
      return {
        type: 'file',
        path: config.path,
        blockSize: config.blockSize,
        writeCache,
        lunStateDir: dirname(config.path),
        open: async () => {
          const records = new BackingRecords(join(ctx.stateDir, 'backing'));
          const file = await FileBackstore.open({ ...options, readOnly: ctx.readOnly, records });
          return { backstore: file, fileReport: file.report };
        },
      };
    }
    case 'block':
      return {
        type: 'block',
        path: config.path,
        blockSize: 512,
        writeCache: config.writeCache,
        lunStateDir: ctx.stateDir,
        open: async () => ({
          backstore: await BlockBackstore.open({ path: config.path, writeCache: config.writeCache, readOnly: ctx.readOnly }),
          fileReport: undefined,
        }),
      };
    case 'null':
      return {
        type: 'null',
        path: undefined,
        blockSize: config.blockSize,
        writeCache: true,
        lunStateDir: undefined,
        open: async () => ({ backstore: new NullBackstore({ size: config.size, blockSize: config.blockSize }), fileReport: undefined }),
      };
    default: {
      const unknown: never = config;
      throw new BackstoreError('EINVAL', `unknown backstore type ${JSON.stringify(unknown)}`);
    }
  }
}
