import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeHeader,
  encodeHeader,
  HEADER_FIELD_BYTES,
  JOURNAL_MAGIC,
  RECORD_HEADER_BYTES,
  recordIntact,
  SLOT_BYTES,
  SLOT_DATA_BYTES,
  type RecordHeader,
} from '../../../src/block/atomic-journal-format.js';
import { AtomicJournal } from '../../../src/block/atomic-journal.js';
import { BlockError } from '../../../src/block/device.js';
import { SgVector } from '../../../src/block/sg.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { waitUntil } from '../../helpers/wait.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scatter-journal-'));
  path = join(dir, 'atomic', 'lu.journal');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const blocksOf = (value: number, blocks: number, blockSize = 512): Buffer => Buffer.alloc(blocks * blockSize, value);

/** A whole slot as the journal writes it: header then data. */
function slotBytes(h: RecordHeader, data: Buffer): Buffer {
  return Buffer.concat([encodeHeader(h, [data]), data]);
}

/** A journal file with the given slots (undefined = an empty slot). */
function craft(slots: (Buffer | undefined)[]): void {
  const file = Buffer.alloc(slots.length * SLOT_BYTES);
  slots.forEach((s, i) => s?.copy(file, i * SLOT_BYTES));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, file);
}

describe('atomic journal record format', () => {
  it('round-trips a header and checks the data against its CRC32C', () => {
    const data = Buffer.concat([blocksOf(0x11, 1), blocksOf(0x22, 2)]);
    // Split across segments as an SG vector would be: the CRC runs over them in order.
    const header = encodeHeader({ seq: 7n, lba: 1234, blocks: 3, blockSize: 512 }, [data.subarray(0, 100), data.subarray(100)]);
    expect(header.length).toBe(RECORD_HEADER_BYTES);
    expect(header.subarray(0, 8).equals(JOURNAL_MAGIC)).toBe(true);
    const state = decodeHeader(header);
    expect(state).toMatchObject({ kind: 'header', header: { seq: 7n, lba: 1234, blocks: 3, blockSize: 512 } });
    if (state.kind !== 'header') throw new Error('unreachable');
    expect(recordIntact(header, state, data)).toBe(true);
    const flipped = Buffer.from(data);
    flipped[700] ^= 1;
    expect(recordIntact(header, state, flipped)).toBe(false);
    // A changed header field (here the LBA) no longer matches the CRC either.
    const moved = Buffer.from(header);
    moved.writeBigUInt64LE(1235n, 24);
    const movedState = decodeHeader(moved);
    if (movedState.kind !== 'header') throw new Error('unreachable');
    expect(recordIntact(moved, movedState, data)).toBe(false);
  });

  it('no magic is an empty slot; the magic with an impossible length is torn', () => {
    expect(decodeHeader(Buffer.alloc(RECORD_HEADER_BYTES))).toEqual({ kind: 'empty' });
    const bad = encodeHeader({ seq: 1n, lba: 0, blocks: 1, blockSize: 512 }, [blocksOf(1, 1)]);
    bad.writeUInt32LE(SLOT_DATA_BYTES, 32); // blocks * blockSize beyond a slot
    expect(decodeHeader(bad)).toMatchObject({ kind: 'torn' });
    bad.writeUInt32LE(0, 32);
    expect(decodeHeader(bad)).toMatchObject({ kind: 'torn' });
  });

  it('refuses to encode data that does not match the header or does not fit a slot', () => {
    expect(() => encodeHeader({ seq: 1n, lba: 0, blocks: 2, blockSize: 512 }, [blocksOf(0, 1)])).toThrow(RangeError);
    const big = SLOT_DATA_BYTES / 512 + 1;
    expect(() => encodeHeader({ seq: 1n, lba: 0, blocks: big, blockSize: 512 }, [blocksOf(0, big)])).toThrow(RangeError);
  });
});

describe('atomic journal replay', () => {
  it('replays an intact record onto the device (FUA) and leaves the journal empty', async () => {
    craft([undefined, slotBytes({ seq: 3n, lba: 10, blocks: 2, blockSize: 512 }, blocksOf(0xab, 2))]);
    const dev = new MemDevice(64);
    const report = await (await AtomicJournal.open(path)).replay(dev);
    expect(report).toEqual({ replayed: [{ seq: 3n, lba: 10, blocks: 2, blockSize: 512 }], torn: 0, discarded: [] });
    expect(dev.buffer.subarray(10 * 512, 12 * 512).every((b) => b === 0xab)).toBe(true);
    expect(dev.buffer.subarray(0, 10 * 512).every((b) => b === 0)).toBe(true);
    expect(dev.log).toEqual([{ op: 'write', offset: 10 * 512, length: 1024, fua: true }]);
    expect(statSync(path).size).toBe(0);
    // Nothing left to replay a second time.
    expect(await (await AtomicJournal.open(path)).replay(dev)).toEqual({ replayed: [], torn: 0, discarded: [] });
  });

  it('discards a torn record (data not matching its CRC): nothing lands', async () => {
    const torn = slotBytes({ seq: 1n, lba: 0, blocks: 4, blockSize: 512 }, blocksOf(0xcd, 4));
    torn.fill(0, RECORD_HEADER_BYTES + 1024); // the crash hit after half the data
    craft([torn]);
    const dev = new MemDevice(64);
    dev.buffer.fill(0x01);
    const report = await (await AtomicJournal.open(path)).replay(dev);
    expect(report).toEqual({ replayed: [], torn: 1, discarded: [] });
    expect(dev.log).toEqual([]);
    expect(dev.buffer.every((b) => b === 0x01)).toBe(true);
    expect(statSync(path).size).toBe(0);
  });

  it('a record cut short by the end of the file is torn', async () => {
    const full = slotBytes({ seq: 1n, lba: 0, blocks: 4, blockSize: 512 }, blocksOf(0xcd, 4));
    await AtomicJournal.open(path);
    writeFileSync(path, full.subarray(0, RECORD_HEADER_BYTES + 600));
    const dev = new MemDevice(64);
    expect(await (await AtomicJournal.open(path)).replay(dev)).toEqual({ replayed: [], torn: 1, discarded: [] });
    expect(dev.log).toEqual([]);
  });

  it('replays in sequence order whatever the slot order, so the newer of two overlapping records wins', async () => {
    craft([
      slotBytes({ seq: 9n, lba: 4, blocks: 4, blockSize: 512 }, blocksOf(0x99, 4)),
      slotBytes({ seq: 5n, lba: 2, blocks: 4, blockSize: 512 }, blocksOf(0x55, 4)),
    ]);
    const dev = new MemDevice(64);
    const report = await (await AtomicJournal.open(path)).replay(dev);
    expect(report.replayed.map((r) => r.seq)).toEqual([5n, 9n]);
    expect(dev.buffer.subarray(2 * 512, 4 * 512).every((b) => b === 0x55)).toBe(true);
    expect(dev.buffer.subarray(4 * 512, 8 * 512).every((b) => b === 0x99)).toBe(true);
  });

  it('does not apply a record that no longer fits the LU (block size or capacity changed)', async () => {
    craft([
      slotBytes({ seq: 1n, lba: 0, blocks: 1, blockSize: 4096 }, blocksOf(0x11, 1, 4096)),
      slotBytes({ seq: 2n, lba: 62, blocks: 4, blockSize: 512 }, blocksOf(0x22, 4)),
    ]);
    const dev = new MemDevice(64);
    const report = await (await AtomicJournal.open(path)).replay(dev);
    expect(report.replayed).toEqual([]);
    expect(report.discarded.map((d) => d.record.seq)).toEqual([1n, 2n]);
    expect(dev.log).toEqual([]);
  });

  it('a replay that cannot write fails (the LU must not be served half-written) and keeps the record', async () => {
    craft([slotBytes({ seq: 1n, lba: 0, blocks: 1, blockSize: 512 }, blocksOf(0x11, 1))]);
    const dev = new MemDevice(64);
    dev.beforeIo = () => {
      throw new BlockError('IO_ERROR', 'injected');
    };
    await expect((await AtomicJournal.open(path)).replay(dev)).rejects.toThrow('injected');
    expect((await (await AtomicJournal.open(path)).scan()).valid).toHaveLength(1);
  });
});

describe('atomic journal commit', () => {
  it('the record is durable and intact while the LU write runs, and gone after it', async () => {
    const journal = await AtomicJournal.open(path);
    const dev = new MemDevice(64);
    const data = new SgVector([blocksOf(0x5a, 1), blocksOf(0x5b, 2)]);
    let during: Awaited<ReturnType<AtomicJournal['scan']>> | undefined;
    await journal.commit(8, 3, 512, data, async () => {
      // What a crash at this point would leave: a record that replays the whole write.
      during = await journal.scan();
      await dev.write(8 * 512, data, { fua: true });
    });
    expect(during?.torn).toBe(0);
    expect(during?.valid).toHaveLength(1);
    expect(during?.valid[0]).toMatchObject({ lba: 8, blocks: 3, blockSize: 512 });
    expect(during?.valid[0]!.data.equals(data.toBuffer())).toBe(true);
    const after = await journal.scan();
    expect(after).toEqual({ valid: [], torn: 0 });
    // Invalidation zeroes the header fields of the slot.
    expect(readFileSync(path).subarray(0, HEADER_FIELD_BYTES).every((b) => b === 0)).toBe(true);
  });

  it('a failed LU write still invalidates the record and reports the failure', async () => {
    const journal = await AtomicJournal.open(path);
    const err = new BlockError('IO_ERROR', 'disk on fire');
    await expect(
      journal.commit(0, 1, 512, new SgVector([blocksOf(1, 1)]), () => Promise.reject(err)),
    ).rejects.toBe(err);
    expect(await journal.scan()).toEqual({ valid: [], torn: 0 });
  });

  it('a journal that cannot be written fails with a BlockError before the LU is touched', async () => {
    const journal = await AtomicJournal.open(path);
    rmSync(path);
    let applied = false;
    const got = journal.commit(0, 1, 512, new SgVector([blocksOf(1, 1)]), async () => {
      applied = true;
    });
    await expect(got).rejects.toBeInstanceOf(BlockError);
    await expect(got).rejects.toMatchObject({ code: 'IO_ERROR' });
    expect(applied).toBe(false);
  });

  it('concurrent commits use separate slots; beyond the slot count they wait for a free one', async () => {
    const journal = await AtomicJournal.open(path, 2);
    const releases: (() => void)[] = [];
    let running = 0;
    let peak = 0;
    const commits = [0, 1, 2, 3].map((i) =>
      journal.commit(i, 1, 512, new SgVector([blocksOf(i + 1, 1)]), async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => releases.push(r));
        running--;
      }),
    );
    await waitUntil(() => releases.length === 2, 'two commits are writing');
    // Two records in flight, in two different slots.
    const mid = await journal.scan();
    expect(mid.valid.map((r) => r.lba).sort()).toEqual([0, 1]);
    // Let each write finish as it arrives: the last two start only after the first two free their
    // slots and their own records are on disk, which may take a while on a busy machine.
    for (let released = 0; released < commits.length; released++) {
      await waitUntil(() => releases.length > 0, 'a commit is writing');
      releases.shift()!();
    }
    await Promise.all(commits);
    expect(peak).toBe(2);
    expect(statSync(path).size).toBeLessThanOrEqual(2 * SLOT_BYTES);
    expect(await journal.scan()).toEqual({ valid: [], torn: 0 });
  });

  it('sequence numbers continue after the highest one replayed', async () => {
    craft([slotBytes({ seq: 41n, lba: 0, blocks: 1, blockSize: 512 }, blocksOf(1, 1))]);
    const journal = await AtomicJournal.open(path);
    await journal.replay(new MemDevice(64));
    let seen: bigint | undefined;
    await journal.commit(5, 1, 512, new SgVector([blocksOf(2, 1)]), async () => {
      seen = (await journal.scan()).valid[0]?.seq;
    });
    expect(seen).toBe(42n);
  });
});
