/** Online resize of the backstores and of the block queue over them. */
import { execFileSync } from 'node:child_process';
import { truncateSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackstoreError } from '../../../src/block/backstore-error.js';
import { BlockBackstore } from '../../../src/backstore/block.js';
import { FileBackstore } from '../../../src/backstore/file.js';
import { NullBackstore } from '../../../src/backstore/null.js';
import { Mempool } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { SgVector } from '../../../src/block/sg.js';
import { createLoop, loopAvailable } from '../../helpers/loop.js';
import { findTool } from '../../helpers/tools.js';

const MiB = 1024 * 1024;
let dir: string;
let n = 0;
const fresh = (): string => join(dir, `r${n++}.img`);
const pool = new Mempool({ pages: 8, pageSize: 65536 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-resize-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileBackstore.resize', () => {
  it('grows sparse: the new blocks read as zeros and take no space, old data stays', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: MiB });
    const q = new BlockQueue(b, pool);
    await q.write(0, new SgVector([Buffer.alloc(512, 0xab)]), { fua: false });
    const before = (await stat(path)).blocks;
    expect(await q.resize({ size: 64 * MiB })).toBe(64 * MiB);
    expect(q.size).toBe(64 * MiB);
    const st = await stat(path);
    expect(st.size).toBe(64 * MiB);
    expect(st.blocks).toBe(before);
    const tail = await q.read(64 * MiB - 4096, 4096);
    expect(tail.data.toBuffer().equals(Buffer.alloc(4096))).toBe(true);
    tail.release();
    await q.write(64 * MiB - 512, new SgVector([Buffer.alloc(512, 0xcd)]), { fua: true });
    await q.close();
    const bytes = await readFile(path);
    expect(bytes[0]).toBe(0xab);
    expect(bytes[64 * MiB - 1]).toBe(0xcd);
  });

  it('refuses a shrink with a clear error and changes nothing; allowShrink truncates', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: 4 * MiB });
    const err = await b.resize({ size: MiB }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackstoreError);
    expect((err as BackstoreError).message).toMatch(/shrinking from 4194304 to 1048576 bytes would lose the data past the new end; refused/);
    expect(b.size).toBe(4 * MiB);
    expect((await stat(path)).size).toBe(4 * MiB);
    expect(await b.resize({ size: MiB, allowShrink: true })).toBe(MiB);
    expect((await stat(path)).size).toBe(MiB);
    await b.close();
  });

  it('refuses sizes that are not whole blocks, and read-only or closed files', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: MiB, blockSize: 4096 });
    await expect(b.resize({ size: 2 * MiB + 512 })).rejects.toThrow(/not a positive multiple of the block size 4096/);
    await b.close();
    await expect(b.resize({ size: 2 * MiB })).rejects.toThrow(/closed/);
    const ro = await FileBackstore.open({ path, readOnly: true });
    await expect(ro.resize({ size: 2 * MiB })).rejects.toThrow(/read-only/);
    await ro.close();
  });
});

describe('NullBackstore.resize', () => {
  it('changes only the capacity; a shrink needs allowShrink', async () => {
    const b = new NullBackstore({ size: MiB });
    const q = new BlockQueue(b, pool);
    await q.resize({ size: 2 * MiB });
    await q.write(2 * MiB - 512, new SgVector([Buffer.alloc(512)]), { fua: false });
    await expect(q.resize({ size: MiB })).rejects.toThrow(/would lose the data/);
    await q.resize({ size: MiB, allowShrink: true });
    await expect(q.write(2 * MiB - 512, new SgVector([Buffer.alloc(512)]), { fua: false })).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
  });
});

describe.skipIf(!loopAvailable())('BlockBackstore.resize on a loop device', () => {
  it('re-reads the size after the device grew (losetup -c); a shrink is refused', async () => {
    const loop = createLoop(4 * MiB);
    try {
      const b = await BlockBackstore.open({ path: loop.dev });
      const q = new BlockQueue(b, pool);
      await q.write(0, new SgVector([Buffer.alloc(4096, 0x5a)]), { fua: true });
      expect(await q.resize({})).toBe(4 * MiB); // nothing changed yet
      truncateSync(loop.file, 12 * MiB);
      execFileSync(findTool('losetup')!, ['-c', loop.dev]);
      expect(await q.resize({})).toBe(12 * MiB);
      const tail = await q.read(12 * MiB - 4096, 4096);
      expect(tail.data.toBuffer().equals(Buffer.alloc(4096))).toBe(true);
      tail.release();
      await q.write(12 * MiB - 4096, new SgVector([Buffer.alloc(4096, 0x77)]), { fua: true });
      const head = await q.read(0, 4096);
      expect(head.data.toBuffer().equals(Buffer.alloc(4096, 0x5a))).toBe(true);
      head.release();

      truncateSync(loop.file, 8 * MiB);
      execFileSync(findTool('losetup')!, ['-c', loop.dev]);
      await expect(q.resize({})).rejects.toThrow(/shrinking from 12582912 to 8388608 bytes/);
      expect(q.size).toBe(12 * MiB);
      await q.close();
    } finally {
      loop.detach();
    }
  });
});
