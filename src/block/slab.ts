/**
 * Small buffers carved one after another out of a shared ArrayBuffer, as Node's own
 * Buffer.allocUnsafe does below 4 KiB. Every ArrayBuffer costs an allocation and GC
 * bookkeeping of its own; a 4 KiB read at a deep queue is common enough for that to show.
 * A slab is dropped, not reused, once full: its memory goes back when the last view dies.
 * Contents are uninitialised, as with allocUnsafe.
 */
export class BufferSlab {
  private slab: Buffer;
  private used = 0;

  constructor(private readonly slabBytes: number) {
    this.slab = Buffer.allocUnsafeSlow(slabBytes);
  }

  /** `length` bytes of uninitialised memory; 8-byte aligned within the slab. */
  take(length: number): Buffer {
    if (length > this.slabBytes) return Buffer.allocUnsafeSlow(length);
    if (this.used + length > this.slabBytes) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    const view = this.slab.subarray(this.used, this.used + length);
    this.used = (this.used + length + 7) & ~7;
    return view;
  }
}
