import { poolBaseAlignment } from './mempool.js';

/**
 * Whether the memory at `buf` is known to sit at an address aligned to
 * `alignment`. Node cannot tell the address of ordinary buffers, so only pool
 * pages (whose base alignment the pool records) can ever be proven aligned.
 */
export function isAddressAligned(buf: Buffer, alignment: number): boolean {
  if (alignment <= 1) return true;
  const base = poolBaseAlignment(buf);
  return base > 0 && base % alignment === 0 && buf.byteOffset % alignment === 0;
}

/** Whether the ArrayBuffer behind `buf` has a known base alignment that is a multiple of `alignment`. */
export function hasKnownAlignment(buf: Buffer, alignment: number): boolean {
  if (alignment <= 1) return true;
  const base = poolBaseAlignment(buf);
  return base > 0 && base % alignment === 0;
}
