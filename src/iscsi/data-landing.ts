import { hasKnownAlignment } from '../block/alignment.js';
import { Mempool } from '../block/mempool.js';
import type { PayloadLanding } from './framer.js';

/** Landing pages: 64 KiB each, 16 MiB in all (allocated on first use, touched only when used). */
const PAGE_BYTES = 64 * 1024;
const POOL_PAGES = 256;
/** One command takes at most this share of the pool, so a few large writes cannot hold all of it. */
const MAX_PAGES_PER_COMMAND = POOL_PAGES / 4;
/** Smaller writes gain little (their Data-Out is a copy of a few pages at most): they take the usual path. */
export const LANDING_MIN_BYTES = 64 * 1024;

let pool: Mempool | undefined;
let poolAligned: boolean | undefined;

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
    private readonly pages: readonly Buffer[],
    readonly length: number,
  ) {}

  /** Pages for `length` bytes whose addresses are multiples of `alignment`, or undefined (none to spare, or pointless). */
  static take(length: number, alignment: number): DataLanding | undefined {
    if (PAGE_BYTES % Math.max(alignment, 1) !== 0 || length < LANDING_MIN_BYTES) return undefined;
    const n = Math.ceil(length / PAGE_BYTES);
    if (n > MAX_PAGES_PER_COMMAND) return undefined;
    const pages = landingPool()?.tryAlloc(n);
    return pages ? new DataLanding(pages, length) : undefined;
  }

  /** Views covering bytes [offset, offset + length) of the landing, one per page touched. */
  region(offset: number, length: number): Buffer[] {
    if (offset < 0 || length < 0 || offset + length > this.length) {
      throw new RangeError(`DataLanding.region(${offset}, ${length}) outside 0..${this.length}`);
    }
    const out: Buffer[] = [];
    for (let at = offset; at < offset + length; ) {
      const page = this.pages[Math.floor(at / PAGE_BYTES)]!;
      const from = at % PAGE_BYTES;
      const n = Math.min(PAGE_BYTES - from, offset + length - at);
      out.push(page.subarray(from, from + n));
      at += n;
    }
    return out;
  }

  /** Whether `piece` is exactly the landing's memory at byte `offset` (received there, nothing to copy). */
  holdsAt(piece: Buffer, offset: number): boolean {
    if (offset + piece.length > this.length) return false;
    const page = this.pages[Math.floor(offset / PAGE_BYTES)]!;
    const from = offset % PAGE_BYTES;
    return piece.buffer === page.buffer && piece.byteOffset === page.byteOffset + from && from + piece.length <= PAGE_BYTES;
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
    pool!.free(this.pages);
  }
}

/** Pages of the landing pool in use now (tests: everything goes back). */
export function landingPagesInUse(): number {
  return pool?.inUse ?? 0;
}
