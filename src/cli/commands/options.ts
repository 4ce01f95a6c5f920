/** Option parsers and option groups several subcommands share. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseSize } from '../../config/size.js';
import { UsageError } from '../errors.js';

/** A size as typed (`10G`, `512M`, `1GiB`, `4096`), checked here, sent as typed (the API parses it too). */
export function sizeArg(value: string): string {
  try {
    parseSize(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  return value.trim();
}

export function intArg(min: number, max: number) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value.trim())) throw new InvalidArgumentError(`must be a whole number ${min}..${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be ${min}..${max}`);
    return n;
  };
}

export const lunArg = intArg(0, 16383);

/** A LUN number given as a positional argument. */
export function parseLun(text: string): number {
  try {
    return lunArg(text);
  } catch (err) {
    throw new UsageError(`LUN ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
}

/** A size given as a positional argument. */
export function checkedSize(text: string): string {
  try {
    return sizeArg(text);
  } catch (err) {
    throw new UsageError(`size: ${(err as Error).message}`);
  }
}

export function addIfMatch(cmd: Command): Command {
  return cmd.option('--if-match <etag>', 'only if the resource is still at this ETag/revision (else exit 5)');
}

export interface BackstoreOpts {
  file?: string;
  block?: string;
  null?: boolean;
  size?: string;
  blockSize?: number;
  thin?: boolean;
  writeCache?: boolean;
  direct?: boolean;
  create?: string;
}

/** --file / --block / --null and their settings: an inline backstore definition. */
export function addBackstoreOptions(cmd: Command): Command {
  return cmd
    .option('--file <path>', 'a file backstore at this path (with --size)')
    .option('--block <device>', 'a block device backstore (size from the device)')
    .option('--null', 'a null backstore (reads zeros, discards writes; with --size)')
    .option('--size <size>', 'size, e.g. 10G, 512M, 1GiB (powers of 1024)', sizeArg)
    .option('--block-size <bytes>', 'logical block size: 512 or 4096', intArg(512, 65536))
    .option('--thin', 'file: offer UNMAP (holes punched in the file)')
    .option('--write-cache', 'write-back cache on (SYNCHRONIZE CACHE flushes)')
    .option('--no-write-cache', 'write-through')
    .option('--direct', 'file: O_DIRECT')
    .addOption(new Option('--create <when>', 'file: create the file once (default), always or never').choices(['once', 'always', 'never']));
}

/** The backstore object for the API, or undefined when no kind was chosen; throws a usage message on a bad mix. */
export function inlineBackstore(o: BackstoreOpts): Record<string, unknown> | undefined {
  const kinds = [o.file !== undefined, o.block !== undefined, o.null === true].filter(Boolean).length;
  if (kinds === 0) return undefined;
  if (kinds > 1) throw new InvalidArgumentError('choose one of --file, --block, --null');
  const extras: Record<string, unknown> = {};
  if (o.blockSize !== undefined) extras.blockSize = o.blockSize;
  if (o.writeCache !== undefined) extras.writeCache = o.writeCache;
  if (o.file !== undefined) {
    if (o.size === undefined) throw new InvalidArgumentError('--file needs --size');
    if (o.thin) extras.thin = true;
    if (o.direct) extras.direct = true;
    if (o.create !== undefined) extras.create = o.create;
    return { type: 'file', path: o.file, size: o.size, ...extras };
  }
  if (o.block !== undefined) {
    if (o.size !== undefined) throw new InvalidArgumentError('--block takes its size from the device; drop --size');
    return { type: 'block', path: o.block, ...extras };
  }
  if (o.size === undefined) throw new InvalidArgumentError('--null needs --size');
  return { type: 'null', size: o.size, ...extras };
}
