import { SgVector } from '../block/sg.js';
import { BufferSlab } from '../block/slab.js';
import type { DataLanding } from './data-landing.js';
import type { PayloadLanding } from './framer.js';

/** Pieces shorter than this are copied, so no command holds more views than bytes / this. */
const SMALL_PIECE = 512;
/** A view that would keep alive a socket chunk more than this many times its own size is copied. */
const MAX_CHUNK_RATIO = 4;
/** Copies go into buffers of this size (or the bytes still expected, if fewer). */
const COPY_BUFFER = 64 * 1024;
const SLAB_BYTES = 16 * 1024;
const slab = new BufferSlab(SLAB_BYTES);

/**
 * The Data-Out (and immediate data) of one write command, gathered without copying where that is
 * cheap in memory. A view of a received socket chunk keeps the whole chunk alive, and every view
 * costs an object of its own; so a piece that is tiny, or small next to its chunk, is copied into a
 * buffer of the command's own instead (consecutive copies join into one view). That bounds what a
 * command holds by what it was charged in the write budget (its payload) whatever way an initiator
 * cuts its data: at most MAX_CHUNK_RATIO times the payload in chunks kept alive, and one view per
 * SMALL_PIECE bytes. A million 1-byte Data-Out PDUs become one 1 MiB buffer, not a million views.
 */
export class DataOutBuffer {
  private sg = new SgVector();
  private copyBuffer: Buffer | undefined;
  private copyFill = 0;
  /** Set by discard(): bytes are counted (offsets stay checkable) but not kept. */
  private dropped: number | undefined;
  /** Aligned pages the stream goes into from now on (data-landing.ts), while it fits. */
  private landing: DataLanding | undefined;
  /** The landing keeps this buffer's bytes until released (also after the stream outgrew it). */
  private landingHeld: DataLanding | undefined;

  constructor(
    /** Bytes the command may still receive in all (EDTL): bounds copy buffers. */
    private expected: number,
  ) {}

  /** The bytes received, as views (empty once discarded). */
  get data(): SgVector {
    return this.sg;
  }

  /** Bytes of the stream received so far. */
  get length(): number {
    return this.dropped ?? this.sg.length;
  }

  /** Let go of everything held and only count what still arrives (a command refused or ended early). */
  discard(): void {
    if (this.dropped !== undefined) return;
    this.dropped = this.sg.length;
    this.sg = new SgVector();
    this.copyBuffer = undefined;
    this.landing = undefined;
  }

  /**
   * From now on the stream goes into `landing`; what came before is copied there. Refused (and the
   * landing released) when the bytes already here do not fit.
   */
  landIn(landing: DataLanding): void {
    if (this.dropped !== undefined || this.landingHeld || this.sg.length > landing.length) {
      landing.release();
      return;
    }
    const old = this.sg;
    this.sg = new SgVector();
    this.landing = this.landingHeld = landing;
    this.copyBuffer = undefined;
    for (const seg of old.segments) this.append(seg);
  }

  /**
   * The landing's memory for stream bytes [offset, offset + length), pinned until `done` (the
   * socket reads into it), when they are the next bytes and fit; else undefined.
   */
  landingFor(offset: number, length: number): PayloadLanding | undefined {
    const landing = this.landing;
    if (!landing || this.dropped !== undefined || offset !== this.sg.length || offset + length > landing.length) return undefined;
    return landing.receive(offset, length);
  }

  /** Whether the stream goes (or went) into a landing. */
  get hasLanding(): boolean {
    return this.landingHeld !== undefined;
  }

  /** Give the landing's pages back once nothing uses this data any more (the task's end). */
  releaseLanding(): void {
    this.landing = undefined;
    this.landingHeld?.release();
    this.landingHeld = undefined;
  }

  /** Add one piece of the stream. */
  append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.dropped !== undefined) {
      this.dropped += piece.length;
      return;
    }
    if (this.landing) {
      if (this.land(this.landing, piece)) return;
      this.landing = undefined; // outgrew it (more than the core asked for): the usual path from here
    }
    if (piece.length < SMALL_PIECE || piece.length * MAX_CHUNK_RATIO < piece.buffer.byteLength) this.copy(piece);
    else this.sg.append(piece);
    this.expected = Math.max(0, this.expected - piece.length);
  }

  /** Into the landing: already there when the socket read it in place, else copied. False if it does not fit. */
  private land(landing: DataLanding, piece: Buffer): boolean {
    const at = this.sg.length;
    if (at + piece.length > landing.length) return false;
    if (landing.holdsAt(piece, at)) {
      this.sg.appendJoined(piece);
    } else {
      let from = 0;
      for (const dest of landing.region(at, piece.length)) {
        from += piece.copy(dest, 0, from);
        this.sg.appendJoined(dest);
      }
    }
    this.expected = Math.max(0, this.expected - piece.length);
    return true;
  }

  private copy(piece: Buffer): void {
    let from = 0;
    while (from < piece.length) {
      if (!this.copyBuffer || this.copyFill === this.copyBuffer.length) {
        const size = Math.max(piece.length - from, Math.min(COPY_BUFFER, this.expected));
        // A shared slab only where the slab is at most MAX_CHUNK_RATIO times what this command keeps
        // in it (a 4 KiB write: an ArrayBuffer per command costs a malloc and GC work); otherwise its own.
        this.copyBuffer = size * MAX_CHUNK_RATIO >= SLAB_BYTES && size <= SLAB_BYTES ? slab.take(size) : Buffer.allocUnsafeSlow(size);
        this.copyFill = 0;
      }
      const n = piece.copy(this.copyBuffer, this.copyFill, from);
      this.sg.appendJoined(this.copyBuffer.subarray(this.copyFill, this.copyFill + n));
      this.copyFill += n;
      from += n;
    }
  }
}
