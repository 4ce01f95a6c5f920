/** A BlockDevice over an in-memory Buffer, for unit tests of CDB handling only. */
import type { AllocationRun, DiscardRange } from '../../src/block/backstore.js';
import { BlockError, type BlockDevice, type BlockReadResult } from '../../src/block/device.js';
import { SgVector } from '../../src/block/sg.js';

export type IoOp = 'read' | 'write' | 'flush' | 'discard';

export interface IoRecord {
  readonly op: IoOp;
  readonly offset: number;
  readonly length: number;
  readonly fua?: boolean;
}

export class MemDevice implements BlockDevice {
  readonly buffer: Buffer;
  readonly log: IoRecord[] = [];
  /** Read results given back via release(). */
  released = 0;
  /** Runs before every I/O: return a promise to hold it, throw (e.g. a BlockError) to fail it. */
  beforeIo?: (op: IoOp, offset: number, length: number) => void | Promise<void>;
  /** Blocks deallocated by discard() and not written since. */
  readonly unmapped = new Set<number>();

  constructor(
    blocks: number,
    readonly blockSize = 512,
    readonly readOnly = false,
  ) {
    this.buffer = Buffer.alloc(blocks * blockSize);
  }

  get size(): number {
    return this.buffer.length;
  }

  async read(offset: number, length: number): Promise<BlockReadResult> {
    await this.beforeIo?.('read', offset, length);
    this.check(offset, length);
    this.log.push({ op: 'read', offset, length });
    const copy = Buffer.from(this.buffer.subarray(offset, offset + length));
    return { data: new SgVector([copy]), release: () => void this.released++ };
  }

  async write(offset: number, data: SgVector, opts: { fua: boolean }): Promise<void> {
    await this.beforeIo?.('write', offset, data.length);
    if (this.readOnly) throw new BlockError('READ_ONLY', 'read-only');
    this.check(offset, data.length);
    this.log.push({ op: 'write', offset, length: data.length, fua: opts.fua });
    data.copyTo(this.buffer, offset);
    for (let b = offset / this.blockSize; b < (offset + data.length) / this.blockSize; b++) this.unmapped.delete(b);
  }

  async flush(): Promise<void> {
    await this.beforeIo?.('flush', 0, 0);
    this.log.push({ op: 'flush', offset: 0, length: 0 });
  }

  /** Thin-provisioning double: discarded blocks read as zeros and report unmapped until written again. */
  async discard(ranges: readonly DiscardRange[]): Promise<void> {
    for (const r of ranges) {
      await this.beforeIo?.('discard', r.offset, r.length);
      this.check(r.offset, r.length);
      this.log.push({ op: 'discard', offset: r.offset, length: r.length });
      this.buffer.fill(0, r.offset, r.offset + r.length);
      for (let b = r.offset / this.blockSize; b < (r.offset + r.length) / this.blockSize; b++) this.unmapped.add(b);
    }
  }

  async allocationRun(offset: number): Promise<AllocationRun> {
    const first = Math.floor(offset / this.blockSize);
    const mapped = !this.unmapped.has(first);
    let b = first + 1;
    while (b * this.blockSize < this.size && this.unmapped.has(b) !== mapped) b++;
    return { mapped, end: b * this.blockSize };
  }

  async close(): Promise<void> {}

  private check(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.buffer.length) throw new BlockError('OUT_OF_RANGE', `${offset}+${length}`);
  }
}

/** Capacity without storage (e.g. more than 2^32 blocks): every I/O fails with IO_ERROR. */
export function capacityOnlyDevice(blocks: number, blockSize = 512): BlockDevice {
  const fail = (): Promise<never> => Promise.reject(new BlockError('IO_ERROR', 'no storage behind this device'));
  return { size: blocks * blockSize, blockSize, readOnly: false, read: fail, write: fail, flush: fail, close: async () => {} };
}
