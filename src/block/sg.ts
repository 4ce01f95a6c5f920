/**
 * A scatter-gather vector: an ordered list of Buffer views that together form
 * one logical byte stream. Appending and slicing never copy payload bytes;
 * only `copyTo`/`copyFrom` move data (used by bounce and by tests).
 */
export class SgVector {
  private readonly segs: Buffer[] = [];
  private total = 0;

  constructor(segments: Iterable<Buffer> = []) {
    for (const s of segments) this.append(s);
  }

  /** Append a view; zero-length views are dropped. */
  append(segment: Buffer): void {
    if (segment.length === 0) return;
    this.segs.push(segment);
    this.total += segment.length;
  }

  /**
   * Append a view, merging it into the last segment when it continues that segment in the same
   * memory (one segment for bytes copied piece by piece into one buffer).
   */
  appendJoined(segment: Buffer): void {
    if (segment.length === 0) return;
    const last = this.segs[this.segs.length - 1];
    if (last && last.buffer === segment.buffer && last.byteOffset + last.length === segment.byteOffset) {
      this.segs[this.segs.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + segment.length);
      this.total += segment.length;
      return;
    }
    this.append(segment);
  }

  get length(): number {
    return this.total;
  }

  get segmentCount(): number {
    return this.segs.length;
  }

  get segments(): readonly Buffer[] {
    return this.segs;
  }

  /** Views covering [offset, offset+length) of the stream, without copying. */
  slice(offset: number, length: number): SgVector {
    if (offset < 0 || length < 0 || offset + length > this.total) {
      throw new RangeError(`SgVector.slice(${offset}, ${length}) outside 0..${this.total}`);
    }
    const out = new SgVector();
    let pos = 0;
    let want = length;
    for (const s of this.segs) {
      if (want === 0) break;
      const end = pos + s.length;
      if (end > offset) {
        const from = Math.max(0, offset - pos);
        const take = Math.min(s.length - from, want);
        out.append(from === 0 && take === s.length ? s : s.subarray(from, from + take));
        want -= take;
      }
      pos = end;
    }
    return out;
  }

  /** Copy `length` bytes starting at stream offset `offset` into `target` at `targetOffset`. */
  copyTo(target: Buffer, targetOffset = 0, offset = 0, length = this.total - offset): number {
    let copied = 0;
    for (const s of this.slice(offset, length).segs) {
      s.copy(target, targetOffset + copied);
      copied += s.length;
    }
    return copied;
  }

  /** Copy bytes from `source` into the stream starting at stream offset `offset`. */
  copyFrom(source: Buffer, offset = 0): number {
    let copied = 0;
    for (const s of this.slice(offset, Math.min(source.length, this.total - offset)).segs) {
      source.copy(s, 0, copied, copied + s.length);
      copied += s.length;
    }
    return copied;
  }

  /** One contiguous Buffer: the view itself when there is a single segment, else a copy (tests, small control data). */
  toBuffer(): Buffer {
    if (this.segs.length === 1) return this.segs[0]!;
    const out = Buffer.allocUnsafe(this.total);
    this.copyTo(out);
    return out;
  }
}
