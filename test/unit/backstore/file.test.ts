import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackstoreError } from '../../../src/block/backstore-error.js';
import { FileBackstore } from '../../../src/backstore/file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = (): string => join(dir, `lun${n++}.img`);
const GiB = 1024 * 1024 * 1024;

describe('FileBackstore.open', () => {
  it('creates a missing file sparse at its size', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: GiB });
    expect(b.size).toBe(GiB);
    expect(b.kind).toBe('file');
    expect(b.limits.alignment).toBe(1);
    const st = await stat(path);
    expect(st.size).toBe(GiB);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024); // no data written
    await b.close();
  });

  it('refuses a size that is not a multiple of the block size, a bad block size, and a missing file without size', async () => {
    await expect(FileBackstore.open({ path: fresh(), size: 1000 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(FileBackstore.open({ path: fresh(), size: 8192, blockSize: 4096 + 512 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(FileBackstore.open({ path: fresh() })).rejects.toBeInstanceOf(BackstoreError);
    await expect(FileBackstore.open({ path: dir, size: 4096 })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('keeps the size of an existing file, grows it sparse when asked for more, never shrinks it', async () => {
    const path = fresh();
    await writeFile(path, Buffer.alloc(8192, 7));
    const same = await FileBackstore.open({ path });
    expect(same.size).toBe(8192);
    await same.close();
    const smaller = await FileBackstore.open({ path, size: 4096 });
    expect(smaller.size).toBe(8192);
    await smaller.close();
    const grown = await FileBackstore.open({ path, size: 8 * 1024 * 1024 });
    expect(grown.size).toBe(8 * 1024 * 1024);
    await grown.close();
    const data = await readFile(path);
    expect(data.length).toBe(8 * 1024 * 1024);
    expect(data.subarray(0, 8192).every((b) => b === 7)).toBe(true);
    expect((await stat(path)).blocks * 512).toBeLessThan(1024 * 1024);
  });

  it('serves only the whole blocks of a file with a ragged length', async () => {
    const path = fresh();
    await writeFile(path, Buffer.alloc(1000));
    const b = await FileBackstore.open({ path });
    expect(b.size).toBe(512);
    await b.close();
  });
});

describe('FileBackstore I/O', () => {
  it('vectored write and read land at the right offsets, across many segments', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: 1024 * 1024 });
    const segs = Array.from({ length: 1500 }, (_, i) => Buffer.alloc(3 + (i % 5), i & 0xff));
    const length = segs.reduce((s, x) => s + x.length, 0);
    await b.writev({ offset: 4097, segments: segs, length }, false);
    const file = await readFile(path);
    expect(file.subarray(4097, 4097 + length).equals(Buffer.concat(segs))).toBe(true);
    expect(file[4096]).toBe(0);
    const back = [Buffer.alloc(10), Buffer.alloc(length - 10)];
    await b.readv({ offset: 4097, segments: back, length });
    expect(Buffer.concat(back).equals(Buffer.concat(segs))).toBe(true);
    expect(b.stats).toMatchObject({ reads: 1, writes: 1, bytesRead: length, bytesWritten: length });
    await b.close();
  });

  it('reads holes as zeros, but the end of a file shrunk behind its back is a fault, never zeros', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: 64 * 1024 });
    await b.writev({ offset: 0, segments: [Buffer.alloc(1000, 0xab)], length: 1000 }, false);
    const hole = Buffer.alloc(4096, 0xff);
    await b.readv({ offset: 8192, segments: [hole], length: 4096 });
    expect(hole.every((x) => x === 0)).toBe(true);
    await truncate(path, 600);
    const segs = [Buffer.alloc(512, 0xff), Buffer.alloc(512, 0xff)];
    await expect(b.readv({ offset: 0, segments: segs, length: 1024 })).rejects.toMatchObject({ code: 'EIO', fault: 'truncated' });
    await b.close();
  });

  it('durable writes and flush call fdatasync; cached writes do not', async () => {
    const b = await FileBackstore.open({ path: fresh(), size: 64 * 1024 });
    const bio = { offset: 0, segments: [Buffer.alloc(512, 1)], length: 512 };
    await b.writev(bio, false);
    expect(b.stats.syncs).toBe(0);
    await b.writev(bio, true);
    expect(b.stats.syncs).toBe(1);
    await b.flush();
    expect(b.stats.syncs).toBe(2);
    await b.close();
  });

  it('read-only: reads work, writes are refused with EROFS', async () => {
    const path = fresh();
    await writeFile(path, Buffer.alloc(4096, 9));
    const b = await FileBackstore.open({ path, readOnly: true });
    expect(b.readOnly).toBe(true);
    await expect(b.writev({ offset: 0, segments: [Buffer.alloc(512)], length: 512 }, false)).rejects.toMatchObject({ code: 'EROFS' });
    await expect(b.discard([{ offset: 0, length: 512 }])).rejects.toMatchObject({ code: 'EROFS' });
    const seg = Buffer.alloc(512);
    await b.readv({ offset: 512, segments: [seg], length: 512 });
    expect(seg.every((x) => x === 9)).toBe(true);
    await b.flush();
    await b.close();
    expect((await readFile(path)).every((x) => x === 9)).toBe(true);
    // A read-only LU never creates its file: a missing one is "not found".
    await expect(FileBackstore.open({ path: fresh(), size: 4096, readOnly: true })).rejects.toMatchObject({ code: 'ENOENT', errno: 'ENOENT' });
  });

  it('rejects bios outside the device or with inconsistent lengths, and everything after close', async () => {
    const b = await FileBackstore.open({ path: fresh(), size: 4096 });
    await expect(b.writev({ offset: 4096, segments: [Buffer.alloc(1)], length: 1 }, false)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(b.readv({ offset: 0, segments: [Buffer.alloc(2)], length: 1 })).rejects.toMatchObject({ code: 'EINVAL' });
    await b.discard([{ offset: 0, length: 4096 }]);
    const closing = b.close();
    await expect(b.readv({ offset: 0, segments: [Buffer.alloc(1)], length: 1 })).rejects.toMatchObject({ code: 'ECLOSED' });
    await closing;
    await expect(b.flush()).rejects.toMatchObject({ code: 'ECLOSED' });
    await b.close(); // idempotent
  });

  it('close waits for writes under way and syncs them', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: 1024 * 1024 });
    const writes = Array.from({ length: 8 }, (_, i) =>
      b.writev({ offset: i * 65536, segments: [Buffer.alloc(65536, i + 1)], length: 65536 }, false),
    );
    await b.close();
    await Promise.all(writes);
    expect(b.stats.syncs).toBe(1);
    const file = await readFile(path);
    for (let i = 0; i < 8; i++) expect(file[i * 65536 + 100]).toBe(i + 1);
  });
});
