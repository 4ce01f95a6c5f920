import { SgVector } from '../block/sg.js';
import { BufferSlab } from '../block/slab.js';

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
  }

  /** Add one piece of the stream. */
  append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.dropped !== undefined) {
      this.dropped += piece.length;
      return;
    }
    if (piece.length < SMALL_PIECE || piece.length * MAX_CHUNK_RATIO < piece.buffer.byteLength) this.copy(piece);
    else this.sg.append(piece);
    this.expected = Math.max(0, this.expected - piece.length);
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
