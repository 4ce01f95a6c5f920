import { ScatterError } from '../shared/errors.js';
/**
 * Byte sizes in the config file: a plain integer (bytes) or an integer with a
 * unit. Every unit is a power of 1024, whether written K/M/G/T or KiB/MiB/GiB/TiB
 * (`1G` = `1GiB` = 1073741824), because storage sizes here must be multiples of
 * the block size. `KB`, `MB`... are refused: they read as powers of 1000 to
 * many people, and a silently wrong disk size is worse than an error.
 */

export class SizeError extends ScatterError<'SIZE_INVALID'> {
  constructor(message: string) {
    super('SIZE_INVALID', message);
  }
}

const UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['b', 1],
  ['k', 2 ** 10],
  ['kib', 2 ** 10],
  ['m', 2 ** 20],
  ['mib', 2 ** 20],
  ['g', 2 ** 30],
  ['gib', 2 ** 30],
  ['t', 2 ** 40],
  ['tib', 2 ** 40],
]);

const AMBIGUOUS = new Set(['kb', 'mb', 'gb', 'tb']);

/** Bytes for `512`, `"512"`, `"64MiB"`, `"1G"`...; throws SizeError with a message fit for the user. */
export function parseSize(input: number | string): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) {
      throw new SizeError(`must be a whole number of bytes, got ${input}`);
    }
    return input;
  }
  const quoted = JSON.stringify(input);
  const match = /^\s*([0-9]+)\s*([A-Za-z]*)\s*$/.exec(input);
  if (match === null) {
    throw new SizeError(`invalid size ${quoted}: expected a whole number with an optional unit, e.g. 512, 64MiB, 1G`);
  }
  const [, digits = '', unitText = ''] = match;
  const unit = unitText.toLowerCase();
  if (AMBIGUOUS.has(unit)) {
    const letter = unitText.charAt(0).toUpperCase();
    throw new SizeError(`ambiguous unit ${unitText} in ${quoted}: write ${letter} or ${letter}iB (powers of 1024)`);
  }
  const multiplier = UNITS.get(unit);
  if (multiplier === undefined) {
    throw new SizeError(`unknown unit ${JSON.stringify(unitText)} in ${quoted}: use K, M, G, T or KiB, MiB, GiB, TiB`);
  }
  const bytes = Number(digits) * multiplier;
  if (!Number.isSafeInteger(bytes)) throw new SizeError(`size ${quoted} is too large`);
  return bytes;
}

/** The shortest exact spelling: 1073741824 -> "1GiB"; a size with no exact unit stays a number. */
export function formatSize(bytes: number): number | string {
  const units: [string, number][] = [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ];
  if (bytes > 0) {
    for (const [name, size] of units) if (bytes % size === 0) return `${bytes / size}${name}`;
  }
  return bytes;
}
