import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { coalesce, COPY_BELOW_BYTES, OutputBatch } from '../../../src/iscsi/output-batch.js';

/** A socket stand-in that records each write and completes it when told to. */
class RecordingSink extends Writable {
  readonly chunks: Buffer[] = [];
  private readonly pending: (() => void)[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    this.pending.push(() => cb());
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.chunks.push(c.chunk);
    this.pending.push(() => cb());
  }

  completeAll(): void {
    for (const done of this.pending.splice(0)) done();
  }
}

const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

describe('coalesce', () => {
  it('joins each run of small pieces into one buffer and keeps large pieces as the same views', () => {
    const large = bytes(COPY_BELOW_BYTES, 9);
    const pieces = [bytes(48, 1), bytes(4096, 2), bytes(48, 3), large, bytes(48, 4)];
    const out = coalesce(pieces);
    expect(out).toHaveLength(3);
    expect(out[0]!.equals(Buffer.concat(pieces.slice(0, 3)))).toBe(true);
    expect(out[1]).toBe(large);
    expect(out[2]).toBe(pieces[4]);
    expect(Buffer.concat(out).equals(Buffer.concat(pieces))).toBe(true);
  });
});

describe('OutputBatch', () => {
  it('writes what was added, in order, and runs every sender callback only once the sink has taken it', async () => {
    const batch = new OutputBatch();
    const sent: number[] = [];
    expect(batch.add([bytes(48, 1), bytes(512, 2)], () => sent.push(1))).toBe(560);
    batch.add([bytes(48, 3)], undefined);
    batch.add([bytes(48, 4), bytes(COPY_BELOW_BYTES * 2, 5)], () => sent.push(2));
    expect(batch.bytes).toBe(560 + 48 + 48 + COPY_BELOW_BYTES * 2);

    const sink = new RecordingSink({ highWaterMark: 1 << 20 });
    expect(batch.writeTo(sink)).toBe(true);
    expect(batch.bytes).toBe(0);
    expect(batch.pieces).toHaveLength(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(Buffer.concat(sink.chunks).equals(Buffer.concat([bytes(48, 1), bytes(512, 2), bytes(48, 3), bytes(48, 4), bytes(COPY_BELOW_BYTES * 2, 5)]))).toBe(true);
    expect(sink.chunks).toHaveLength(2); // the small pieces joined, the large one as it is
    expect(sent).toEqual([]);
    sink.completeAll();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(sent).toEqual([1, 2]);
  });
});
