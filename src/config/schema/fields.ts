/** Building blocks shared by the config schemas: numbers, sizes, names, addresses, paths. */
import { isIP } from 'node:net';
import { z } from 'zod';
import { resolveConfigPath } from '../data-dir.js';
import { iscsiNameProblem } from '../iscsi-name.js';
import { SizeError, formatSize, parseSize } from '../size.js';

/** The iSCSI DataSegmentLength field is 24 bits wide. */
export const MAX_ISCSI_LENGTH = 16_777_215;

export function integer(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.number({ error: message }).int(message).min(min, message).max(max, message);
}

/** A byte count: an integer or a string with a unit (see size.ts), between min and max. */
export function byteSize(min: number, max: number) {
  const range =
    min === 1 ? 'must be greater than 0' : `must be from ${String(formatSize(min))} to ${String(formatSize(max))}`;
  return z
    .union([z.number(), z.string()], {
      error: 'must be a number of bytes (e.g. 4096) or a size with a unit (e.g. 64MiB, 1G)',
    })
    .transform((value, ctx) => {
      try {
        return parseSize(value);
      } catch (err) {
        if (!(err instanceof SizeError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
        return z.NEVER;
      }
    })
    .pipe(z.number().min(min, range).max(max, range));
}

export function hasControlCharacters(text: string): boolean {
  return /\p{Cc}/u.test(text);
}

/** Report every repeated value of `keys` after its first occurrence. */
export function reportDuplicates<T>(keys: readonly T[], report: (index: number, key: T) => void): void {
  const seen = new Set<T>();
  keys.forEach((key, index) => {
    if (seen.has(key)) report(index, key);
    else seen.add(key);
  });
}

export const IscsiNameSchema = z.string({ error: 'must be an iSCSI name' }).superRefine((name, ctx) => {
  const problem = iscsiNameProblem(name);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * A backing file or device path. Relative paths are resolved against the
 * working directory of the process at load time (`npm start` runs from the
 * repository root, so `./data/lun0.img` is `<repo>/data/lun0.img`), `./data/...`
 * against SCATTER_DATA_DIR when `scatter serve` has one (data-dir.ts); the
 * resulting Config, and any file saved from it, holds absolute paths.
 */
export const PathSchema = z
  .string({ error: 'must be a path' })
  .min(1, 'must not be empty')
  .refine((path) => !path.includes('\0'), 'must not contain NUL')
  .transform((path) => resolveConfigPath(path));

export const HostSchema = z
  .string({ error: 'must be an IP address' })
  .refine((host) => isIP(host) !== 0, 'must be an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::)');

/** Seconds, fractions allowed (tests use short deadlines). */
export function seconds(min: number, max: number) {
  const message = `must be a number of seconds from ${min} to ${max}`;
  return z.number({ error: message }).min(min, message).max(max, message);
}
