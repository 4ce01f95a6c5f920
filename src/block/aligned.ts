/**
 * Pool memory whose real address is aligned (O_DIRECT needs it): posix_memalign through
 * koffi, wrapped as an external ArrayBuffer and freed when that ArrayBuffer is collected.
 * Node gives no other way to know where a buffer lives.
 */
import koffi from 'koffi';

interface AlignedLibc {
  posixMemalign(out: [unknown], alignment: number, size: number): number;
  free(ptr: unknown): void;
}

let libc: AlignedLibc | Error | undefined;

function load(): AlignedLibc {
  if (libc === undefined) {
    try {
      if (process.platform !== 'linux') throw new Error(`platform ${process.platform}: no libc.so.6`);
      const lib = koffi.load('libc.so.6');
      libc = {
        posixMemalign: lib.func('int posix_memalign(_Out_ void **memptr, size_t alignment, size_t size)') as AlignedLibc['posixMemalign'],
        free: lib.func('void free(void *ptr)') as AlignedLibc['free'],
      };
    } catch (err) {
      libc = new Error(`aligned memory unavailable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  if (libc instanceof Error) throw libc;
  return libc;
}

export function alignedMemoryAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

// The native block goes back to malloc once no view of it can be reached.
const release = new FinalizationRegistry<unknown>((ptr) => {
  if (!(libc instanceof Error) && libc !== undefined) libc.free(ptr);
});

/** Fresh memory of `bytes` (> 0) whose address is a multiple of `alignment` (a power of two). */
export function alignedArrayBuffer(bytes: number, alignment: number): ArrayBuffer {
  const { posixMemalign } = load();
  const out: [unknown] = [null];
  const rc = posixMemalign(out, alignment, bytes);
  if (rc !== 0) throw new Error(`posix_memalign(${alignment}, ${bytes}) failed: errno ${rc}`);
  const ab = koffi.view(out[0], bytes);
  release.register(ab, out[0]);
  return ab;
}

/** The real address of a buffer's first byte (tests check alignment claims with it). */
export function memoryAddress(buf: Buffer): bigint {
  return koffi.address(buf);
}
