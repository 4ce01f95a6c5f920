import { BlockError, type BlockDevice } from '../../block/device.js';
import { SgVector } from '../../block/sg.js';
import { Sense, type SenseReason } from '../sense-reasons.js';
import type { SanitizeOperation } from './sanitize-state.js';

/** The OVERWRITE parameter list (SBC-4 table 111), decoded. */
export interface OverwritePlan {
  /** INVERT: the pattern is inverted between consecutive passes. */
  readonly invert: boolean;
  /** OVERWRITE COUNT: passes, 1..31. */
  readonly passes: number;
  /** INITIALIZATION PATTERN, 1..logical block length bytes. */
  readonly pattern: Buffer;
}

/** Header bytes before the INITIALIZATION PATTERN. */
export const OVERWRITE_HEADER = 4;

/**
 * Decodes and checks the parameter list (whose length the CDB check already bounded to
 * 5..block length + 4). TEST values other than 00b are vendor specific: none is defined here.
 */
export function parseOverwriteParameters(data: Buffer, blockSize: number): OverwritePlan | SenseReason {
  if (data.length < OVERWRITE_HEADER + 1) return Sense.parameterListLengthError;
  const passes = data[0]! & 0x1f;
  if (((data[0]! >> 5) & 0x03) !== 0) return Sense.invalidFieldInParameterList(0, 6);
  if (passes === 0) return Sense.invalidFieldInParameterList(0, 4);
  if (data[1] !== 0) return Sense.invalidFieldInParameterList(1);
  const length = data.readUInt16BE(2);
  // Zero, more than a block, or more than was sent: the length field is wrong.
  if (length === 0 || length > blockSize || OVERWRITE_HEADER + length > data.length) {
    return Sense.invalidFieldInParameterList(2);
  }
  const pattern = Buffer.from(data.subarray(OVERWRITE_HEADER, OVERWRITE_HEADER + length));
  return { invert: (data[0]! & 0x80) !== 0, passes, pattern };
}

/** Pacing of the overwrite: `rate` bytes per second, 0 = as fast as the device goes. */
export interface OverwritePace {
  readonly rate: number;
  /** Milliseconds; injectable for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const MAX_CHUNK_BYTES = 1024 * 1024;
/** With a rate, about this many writes a second, so the pace is smooth and progress moves. */
const CHUNKS_PER_SECOND = 10;
const POOL_RETRY_MS = 20;

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes per write: whole blocks, at most 1 MiB, and small enough to keep a slow rate smooth. */
export function overwriteChunkBytes(blockSize: number, size: number, rate: number): number {
  let bytes = MAX_CHUNK_BYTES;
  if (rate > 0) bytes = Math.min(bytes, Math.floor(rate / CHUNKS_PER_SECOND));
  bytes = Math.max(blockSize, bytes - (bytes % blockSize));
  return Math.min(bytes, Math.max(blockSize, size));
}

/** `bytes` bytes of logical blocks that each start with the first byte of `pattern` (SBC-4 5.30.2.2). */
function patternChunk(pattern: Buffer, blockSize: number, bytes: number): Buffer {
  const block = Buffer.alloc(blockSize).fill(pattern);
  return Buffer.alloc(bytes).fill(block);
}

function inverted(pattern: Buffer): Buffer {
  const out = Buffer.alloc(pattern.length);
  for (let i = 0; i < pattern.length; i++) out[i] = ~pattern[i]! & 0xff;
  return out;
}

/**
 * The sanitize overwrite of the whole device: `passes` passes over every block, each flushed to
 * the medium before the next begins. With INVERT the passes alternate pattern and inverse, and
 * the last pass always writes the pattern itself (so an even count starts inverted).
 */
export function overwriteOperation(device: BlockDevice, plan: OverwritePlan, pace: OverwritePace): SanitizeOperation {
  const size = device.size;
  const rate = pace.rate;
  const now = pace.now ?? (() => performance.now());
  const sleep = pace.sleep ?? defaultSleep;
  const chunkBytes = overwriteChunkBytes(device.blockSize, size, rate);
  return {
    name: 'OVERWRITE',
    total: size * plan.passes,
    async run(report) {
      const straight = patternChunk(plan.pattern, device.blockSize, chunkBytes);
      const inverse = plan.invert ? patternChunk(inverted(plan.pattern), device.blockSize, chunkBytes) : straight;
      const start = now();
      let written = 0;
      for (let pass = 0; pass < plan.passes; pass++) {
        const data = (plan.passes - 1 - pass) % 2 === 1 ? inverse : straight;
        for (let offset = 0; offset < size; offset += chunkBytes) {
          const length = Math.min(chunkBytes, size - offset);
          await writeWaitingForPool(device, offset, data.subarray(0, length), sleep);
          written += length;
          report(written);
          if (rate > 0) {
            const wait = start + (written / rate) * 1000 - now();
            if (wait > 0) await sleep(wait);
          }
        }
        await device.flush();
      }
    },
  };
}

/** A sanitize must not fail because the bounce pool is busy for a moment: wait and retry. */
async function writeWaitingForPool(
  device: BlockDevice,
  offset: number,
  data: Buffer,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  for (;;) {
    try {
      await device.write(offset, new SgVector([data]), { fua: false });
      return;
    } catch (err) {
      if (!(err instanceof BlockError && err.code === 'POOL_EXHAUSTED')) throw err;
      await sleep(POOL_RETRY_MS);
    }
  }
}
