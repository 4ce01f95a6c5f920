import { hasKnownAlignment } from '../block/alignment.js';
import { Mempool } from '../block/mempool.js';
import type { PayloadLanding } from './framer.js';

/** Landing pages for large writes: 64 KiB each, 16 MiB in all (allocated on first use, touched only when used). */
const PAGE_BYTES = 64 * 1024;
const POOL_PAGES = 256;
/** One command takes at most this share of the pool, so a few large writes cannot hold all of it. */
const MAX_PAGES_PER_COMMAND = POOL_PAGES / 4;
/** Writes at least this long land in the large (aligned) pages, whatever their LU. */
export const LANDING_MIN_BYTES = 64 * 1024;
/**
 * Smaller writes land in small pages, and only on LUs without an alignment rule (buffered): there
 * the gain is memory that is reused, not a copy saved (O_DIRECT LUs bounce them as before).
 */
const SMALL_PAGE_BYTES = 4 * 1024;
const SMALL_POOL_PAGES = 4096;

let pool: Mempool | undefined;
let poolAligned: boolean | undefined;
let smallPool: Mempool | undefined;

/** The shared landing pool, or undefined where its pages cannot be proven page-aligned (no libc). */
function landingPool(): Mempool | undefined {
  if (poolAligned === false) return undefined;
  pool ??= new Mempool({ pages: POOL_PAGES, pageSize: PAGE_BYTES });
  if (poolAligned === undefined) {
    const probe = pool.tryAlloc(1);
    poolAligned = probe !== null && hasKnownAlignment(probe[0]!, PAGE_BYTES);
    if (probe) pool.free(probe);
  }
  return poolAligned ? pool : undefined;
}

/** Pages for `length` bytes (of `alignment`) from the pool that serves that size, or undefined. */
function pagesFor(length: number, alignment: number): { pool: Mempool; pages: Buffer[]; pageBytes: number } | undefined {
  if (length >= LANDING_MIN_BYTES) {
    if (PAGE_BYTES % Math.max(alignment, 1) !== 0) return undefined;
    const n = Math.ceil(length / PAGE_BYTES);
    const from = n <= MAX_PAGES_PER_COMMAND ? landingPool() : undefined;
    const pages = from?.tryAlloc(n);
    return from && pages ? { pool: from, pages, pageBytes: PAGE_BYTES } : undefined;
  }
  if (length <= 0 || alignment > 1) return undefined;
  smallPool ??= new Mempool({ pages: SMALL_POOL_PAGES, pageSize: SMALL_PAGE_BYTES });
  const pages = smallPool.tryAlloc(Math.ceil(length / SMALL_PAGE_BYTES));
  return pages ? { pool: smallPool, pages, pageBytes: SMALL_PAGE_BYTES } : undefined;
}

/**
 * Aligned pages a write command's Data-Out is received into straight from the socket, so that a LU
 * under O_DIRECT writes them without a bounce copy, and a buffered LU's large writes reuse memory
 * instead of filling fresh receive buffers (each 64 MiB of those costs a full garbage collection,
 * whose price grows with the heap a long-running target has). Pages go back to the pool only when both the
 * command has let go of its data (release) and no socket read still targets them (pins): a read
 * into pages already serving another command would corrupt its data.
 */
export class DataLanding {
  private pins = 0;
  private released = false;
  private freed = false;

  private constructor(
    private readonly pool: Mempool,
    private readonly pages: readonly Buffer[],
    private readonly pageBytes: number,
    readonly length: number,
  ) {}

  /** Pages for `length` bytes whose addresses are multiples of `alignment`, or undefined (none to spare, or not served). */
  static take(length: number, alignment: number): DataLanding | undefined {
    const got = pagesFor(length, alignment);
    return got ? new DataLanding(got.pool, got.pages, got.pageBytes, length) : undefined;
  }

  /** Views covering bytes [offset, offset + length) of the landing, one per page touched. */
  region(offset: number, length: number): Buffer[] {
    if (offset < 0 || length < 0 || offset + length > this.length) {
      throw new RangeError(`DataLanding.region(${offset}, ${length}) outside 0..${this.length}`);
    }
    const out: Buffer[] = [];
    for (let at = offset; at < offset + length; ) {
      const page = this.pages[Math.floor(at / this.pageBytes)]!;
      const from = at % this.pageBytes;
      const n = Math.min(this.pageBytes - from, offset + length - at);
      out.push(page.subarray(from, from + n));
      at += n;
    }
    return out;
  }

  /** Whether `piece` is exactly the landing's memory at byte `offset` (received there, nothing to copy). */
  holdsAt(piece: Buffer, offset: number): boolean {
    if (offset + piece.length > this.length) return false;
    const page = this.pages[Math.floor(offset / this.pageBytes)]!;
    const from = offset % this.pageBytes;
    return piece.buffer === page.buffer && piece.byteOffset === page.byteOffset + from && from + piece.length <= this.pageBytes;
  }

  /** Bytes [offset, offset + length) for the framer to read a payload into: pinned until its done(). */
  receive(offset: number, length: number): PayloadLanding {
    const segments = this.region(offset, length);
    this.pins++;
    let done = false;
    return {
      segments,
      done: () => {
        if (done) return;
        done = true;
        this.pins--;
        this.freeIfUnused();
      },
    };
  }

  /** The command is done with its data (idempotent). */
  release(): void {
    this.released = true;
    this.freeIfUnused();
  }

  private freeIfUnused(): void {
    if (!this.released || this.pins > 0 || this.freed) return;
    this.freed = true;
    this.pool.free(this.pages);
  }
}

/** Pages of the landing pool in use now (tests: everything goes back). */
export function landingPagesInUse(): number {
  return (pool?.inUse ?? 0) + (smallPool?.inUse ?? 0);
}
