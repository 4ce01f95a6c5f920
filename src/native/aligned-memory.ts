/**
 * Memory whose real address is aligned (O_DIRECT needs it): posix_memalign, wrapped as an
 * external ArrayBuffer and freed when that ArrayBuffer is collected. Node gives no other way to
 * know where a buffer lives.
 */
import { addressOf, available, lazyBinding, nativeView } from './libc.js';

interface AlignedLibc {
  posixMemalign(out: [unknown], alignment: number, size: number): number;
  free(ptr: unknown): void;
}

const memory = lazyBinding<AlignedLibc>('aligned memory', 'libc', (lib) => ({
  posixMemalign: lib.func('int posix_memalign(_Out_ void **memptr, size_t alignment, size_t size)') as AlignedLibc['posixMemalign'],
  free: lib.func('void free(void *ptr)') as AlignedLibc['free'],
}));

export function alignedMemoryAvailable(): boolean {
  return available(memory);
}

// The native block goes back to malloc once no view of it can be reached.
const release = new FinalizationRegistry<unknown>((ptr) => memory().free(ptr));

/** Fresh memory of `bytes` (> 0) whose address is a multiple of `alignment` (a power of two). */
export function alignedArrayBuffer(bytes: number, alignment: number): ArrayBuffer {
  const { posixMemalign } = memory();
  const out: [unknown] = [null];
  const rc = posixMemalign(out, alignment, bytes);
  if (rc !== 0) throw new Error(`posix_memalign(${alignment}, ${bytes}) failed: errno ${rc}`);
  const ab = nativeView(out[0], bytes);
  release.register(ab, out[0]);
  return ab;
}

/** The real address of a buffer's first byte (tests check alignment claims with it). */
export function memoryAddress(buf: Buffer): bigint {
  return addressOf(buf);
}
