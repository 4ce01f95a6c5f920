import type { Backstore, DiscardRange } from '../../../src/block/backstore.js';
import { BackstoreError, type BackstoreErrorCode } from '../../../src/block/backstore-error.js';
import { isAddressAligned } from '../../../src/block/alignment.js';
import type { Bio } from '../../../src/block/bio.js';
import type { QueueLimits } from '../../../src/block/limits.js';
import { isPoolMemory } from '../../../src/block/mempool.js';

export interface BioRecord {
  readonly dir: 'read' | 'write';
  readonly offset: number;
  readonly length: number;
  readonly segmentLengths: number[];
  readonly durable: boolean;
  readonly poolSegments: number;
}

export interface RecorderHooks {
  /** Return an error code to make this bio fail (after it was recorded). */
  fault?: (dir: 'read' | 'write', bio: Bio) => BackstoreErrorCode | undefined;
  /** Complete each bio on a later macrotask, so many bios interleave. */
  async?: boolean;
  /** Called at each submission, e.g. to sample the pool. */
  onSubmit?: () => void;
}

/**
 * Wraps a backstore, imposes `limits` on the queue above it, records every bio
 * and checks each one against those limits (violations are collected, not thrown).
 */
export class RecordingBackstore implements Backstore {
  readonly records: BioRecord[] = [];
  readonly violations: string[] = [];
  flushes = 0;
  inflight = 0;
  inflightHighWater = 0;

  constructor(
    readonly inner: Backstore,
    readonly limits: QueueLimits,
    private readonly hooks: RecorderHooks = {},
  ) {}

  get kind(): Backstore['kind'] {
    return this.inner.kind;
  }
  get size(): number {
    return this.inner.size;
  }
  get blockSize(): number {
    return this.inner.blockSize;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  get thin(): boolean {
    return this.inner.thin;
  }
  get keepsData(): boolean {
    return this.inner.keepsData;
  }

  readv(bio: Bio): Promise<void> {
    return this.io('read', bio, false, () => this.inner.readv(bio));
  }

  writev(bio: Bio, durable: boolean): Promise<void> {
    return this.io('write', bio, durable, () => this.inner.writev(bio, durable));
  }

  async flush(): Promise<void> {
    this.flushes++;
    await this.inner.flush();
  }

  discard(ranges: readonly DiscardRange[], durable?: boolean): Promise<void> {
    return this.inner.discard(ranges, durable);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async io(dir: 'read' | 'write', bio: Bio, durable: boolean, run: () => Promise<void>): Promise<void> {
    this.check(bio);
    this.records.push({
      dir,
      offset: bio.offset,
      length: bio.length,
      segmentLengths: bio.segments.map((s) => s.length),
      durable,
      poolSegments: bio.segments.filter(isPoolMemory).length,
    });
    this.hooks.onSubmit?.();
    this.inflight++;
    this.inflightHighWater = Math.max(this.inflightHighWater, this.inflight);
    try {
      if (this.hooks.async) await new Promise<void>((r) => setImmediate(r));
      const code = this.hooks.fault?.(dir, bio);
      if (code) throw new BackstoreError(code, `injected ${code}`);
      await run();
    } finally {
      this.inflight--;
    }
  }

  private check(bio: Bio): void {
    const { alignment: a, maxBioBytes, maxSegments } = this.limits;
    const at = `bio ${bio.offset}+${bio.length}`;
    const sum = bio.segments.reduce((n, s) => n + s.length, 0);
    if (sum !== bio.length) this.violations.push(`${at}: segments sum ${sum}`);
    if (bio.length === 0) this.violations.push(`${at}: empty`);
    if (bio.length > maxBioBytes) this.violations.push(`${at}: > maxBioBytes ${maxBioBytes}`);
    if (bio.segments.length > maxSegments) this.violations.push(`${at}: ${bio.segments.length} segments > ${maxSegments}`);
    if (bio.offset % a !== 0 || bio.length % a !== 0) this.violations.push(`${at}: not aligned to ${a}`);
    for (const s of bio.segments) {
      if (s.length === 0) this.violations.push(`${at}: empty segment`);
      if (s.length % a !== 0 || !isAddressAligned(s, a)) this.violations.push(`${at}: segment of ${s.length} unaligned`);
    }
  }
}

/** A device in memory (a Buffer), for tests that need many fast, checkable bios. */
export class RamBackstore implements Backstore {
  readonly kind = 'null' as const;
  readonly readOnly = false;
  readonly thin = false;
  readonly keepsData = true;
  readonly data: Buffer;

  constructor(
    readonly size: number,
    readonly limits: QueueLimits,
    readonly blockSize = 512,
  ) {
    this.data = Buffer.alloc(size);
  }

  async readv(bio: Bio): Promise<void> {
    let at = bio.offset;
    for (const s of bio.segments) at += this.data.copy(s, 0, at, at + s.length);
  }

  async writev(bio: Bio): Promise<void> {
    let at = bio.offset;
    for (const s of bio.segments) at += s.copy(this.data, at);
  }

  async flush(): Promise<void> {}
  async discard(): Promise<void> {}
  async close(): Promise<void> {}
}

export function limits(over: Partial<QueueLimits> = {}): QueueLimits {
  return { logicalBlockSize: 512, maxBioBytes: 1 << 20, maxSegments: 1024, alignment: 1, maxInflightBios: 64, ...over };
}

/** Deterministic PRNG (mulberry32) for fault injection driven by a fast-check seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fill a buffer with a position-dependent pattern (distinct per `tag`), natively via Buffer ops. */
export function pattern(length: number, tag: number): Buffer {
  const block = Buffer.alloc(251);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7 + tag * 13 + 1) & 0xff;
  const out = Buffer.alloc(length);
  out.fill(block);
  return out;
}
