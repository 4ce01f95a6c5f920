import { createHash } from 'node:crypto';
import { readFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../shared/atomic-write.js';
import { BackstoreError } from '../block/backstore-error.js';
import { errnoCode, fromErrno } from './file-io.js';

/**
 * What Scatter remembers of a backing file it served: that it existed, and its size. Kept in the
 * state directory, away from the file, so that a file deleted or truncated behind Scatter's back
 * is recognised at the next start instead of being silently created anew (empty) or grown back.
 */
export interface BackingRecord {
  readonly path: string;
  readonly size: number;
}

const RecordSchema = z.object({ path: z.string().min(1), size: z.number().int().min(0) });

/** `create` policy of a file backstore (config `create`, README "Backstores"). */
export type CreatePolicy = 'once' | 'always' | 'never';

/** One record per backing file path under `<stateDir>/backing/`. */
export class BackingRecords {
  constructor(readonly dir: string) {}

  /** `<dir>/<file name>-<16 hex digits of SHA-256 of the absolute path>.json`: readable, and unique per path. */
  fileFor(path: string): string {
    const name = basename(path).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
    const hash = createHash('sha256').update(path).digest('hex').slice(0, 16);
    return join(this.dir, `${name}-${hash}.json`);
  }

  /** The record of `path`, or undefined when Scatter never served it. A corrupt record is an error, not "none". */
  async read(path: string): Promise<BackingRecord | undefined> {
    const file = this.fileFor(path);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw fromErrno(err, `${file}: read the backing file record`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const record = RecordSchema.safeParse(parsed);
    if (!record.success || record.data.path !== path) {
      throw new BackstoreError('EINVAL', `${file}: not a backing file record for ${path}; remove it to start over`);
    }
    return record.data;
  }

  /** Durable (temp file, fsync, rename, fsync of the directory) before it resolves. */
  async write(path: string, size: number): Promise<void> {
    const file = this.fileFor(path);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, `${JSON.stringify({ path, size })}\n`);
    } catch (err) {
      throw fromErrno(err, `${file}: record the backing file`);
    }
  }
}
