import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DataOutBuffer } from '../../../src/iscsi/data-out-buffer.js';

/** `n` bytes as the framer hands them over: each a view into a socket chunk of `chunk` bytes of its own. */
function piecesOf(data: Buffer, pieceLength: number, chunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += pieceLength) {
    const c = Buffer.alloc(chunk);
    const n = data.copy(c, 48, off, Math.min(off + pieceLength, data.length));
    out.push(c.subarray(48, 48 + n));
  }
  return out;
}

describe('DataOutBuffer', () => {
  it('gathers a million 1-byte pieces into a few buffers of its own, keeping no socket chunk alive', () => {
    const data = randomBytes(1024 * 1024);
    const pieces = piecesOf(data, 1, 49); // a 48-byte BHS and 1 byte of data per PDU
    const b = new DataOutBuffer(data.length);
    for (const p of pieces) b.append(p);
    expect(b.length).toBe(data.length);
    expect(b.data.segmentCount).toBeLessThanOrEqual(16); // 64 KiB copy buffers, consecutive copies joined
    const chunks = new Set(pieces.map((p) => p.buffer));
    for (const seg of b.data.segments) expect(chunks.has(seg.buffer)).toBe(false);
    expect(b.data.toBuffer().equals(data)).toBe(true);
  });

  it('keeps large pieces as views (no copy), but copies a small piece of a large chunk', () => {
    const data = randomBytes(256 * 1024);
    const big = piecesOf(data, 64 * 1024, 64 * 1024 + 48);
    const b = new DataOutBuffer(data.length);
    for (const p of big) b.append(p);
    expect(b.data.segments.map((s) => s.buffer)).toEqual(big.map((p) => p.buffer));

    const small = Buffer.alloc(65536).subarray(100, 100 + 8192); // 8 KiB of a 64 KiB chunk
    const c = new DataOutBuffer(8192);
    c.append(small);
    expect(c.data.segments[0]!.buffer).not.toBe(small.buffer);
    expect(c.data.toBuffer().equals(small)).toBe(true);
  });

  it('views it keeps never hold a chunk more than 4 times their size, whatever the cut', () => {
    const data = randomBytes(300 * 1024);
    for (const [piece, chunk] of [[700, 64 * 1024], [3000, 16 * 1024], [20 * 1024, 64 * 1024], [17, 65]] as const) {
      const b = new DataOutBuffer(data.length);
      for (const p of piecesOf(data, piece, chunk)) b.append(p);
      for (const seg of b.data.segments) expect(seg.buffer.byteLength).toBeLessThanOrEqual(Math.max(4 * seg.length, 64 * 1024));
      expect(b.data.toBuffer().equals(data)).toBe(true);
    }
  });

  it('after discard() counts what arrives without keeping it', () => {
    const b = new DataOutBuffer(10_000);
    b.append(Buffer.alloc(1000, 1));
    b.discard();
    b.append(Buffer.alloc(3000, 2));
    expect(b.length).toBe(4000);
    expect(b.data.length).toBe(0);
  });
});
