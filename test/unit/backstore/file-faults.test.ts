/**
 * A backing file truncated or deleted behind Scatter's back is a fault, never zeros with GOOD
 * nor a file silently extended again: on a disk file system (reads inline with RWF_NOWAIT) and on
 * tmpfs (reads and writes inline), through the backstore and through the block queue.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { FileBackstore } from '../../../src/backstore/file.js';
import { fileState } from '../../../src/native/statx.js';
import { DeviceHealth } from '../../../src/block/health.js';
import { Mempool } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { SgVector } from '../../../src/block/sg.js';

const KiB = 1024;
const dirs: { name: string; dir: string }[] = [];
beforeAll(async () => {
  dirs.push({ name: 'tmpdir', dir: await mkdtemp(join(tmpdir(), 'scatter-faults-')) });
  if (existsSync('/dev/shm')) dirs.push({ name: '/dev/shm', dir: await mkdtemp('/dev/shm/scatter-faults-') });
});
afterAll(async () => {
  for (const d of dirs) await rm(d.dir, { recursive: true, force: true });
});

let n = 0;
const bio = (offset: number, data: Buffer) => ({ offset, segments: [data], length: data.length });
const pool = new Mempool({ pages: 16, pageSize: 64 * KiB });

describe.each(['tmpdir', '/dev/shm'])('file backstore faults on %s', (where) => {
  const fresh = (): string => {
    const d = dirs.find((x) => x.name === where);
    if (!d) throw new Error(`${where} unavailable`);
    return join(d.dir, `lun${n++}.img`);
  };

  it('a read inside the capacity that meets the end of a truncated file fails (truncated), instead of reading zeros', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: 256 * KiB });
    await b.writev(bio(0, Buffer.alloc(128 * KiB, 0xab)), false);
    // Read once so the page cache holds it: the inline path answers the read that follows.
    await b.readv(bio(96 * KiB, Buffer.alloc(4 * KiB)));
    await truncate(path, 64 * KiB);
    const into = Buffer.alloc(4 * KiB, 0xff);
    await expect(b.readv(bio(96 * KiB, into))).rejects.toMatchObject({ code: 'EIO', fault: 'truncated' });
    await expect(b.readv(bio(60 * KiB, Buffer.alloc(8 * KiB)))).rejects.toMatchObject({ fault: 'truncated' });
    // Below the new end the data is still there and is read as it is.
    const head = Buffer.alloc(4 * KiB);
    await b.readv(bio(0, head));
    expect(head.equals(Buffer.alloc(4 * KiB, 0xab))).toBe(true);
    await b.close();
  });

  it('a write to a truncated file is refused and does not extend the file again', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: 256 * KiB });
    await truncate(path, 64 * KiB);
    await expect(b.writev(bio(200 * KiB, Buffer.alloc(4 * KiB, 1)), false)).rejects.toMatchObject({ code: 'EIO', fault: 'truncated' });
    await expect(b.writev(bio(0, Buffer.alloc(4 * KiB, 1)), true)).rejects.toMatchObject({ fault: 'truncated' });
    expect(statSync(path).size).toBe(64 * KiB);
    await expect(b.flush()).rejects.toMatchObject({ fault: 'truncated' });
    await b.close();
  });

  it('a deleted file: writes and flushes are refused (unlinked); what is written would be lost at close', async () => {
    const path = fresh();
    const b = await FileBackstore.open({ path, size: 256 * KiB });
    await b.writev(bio(0, Buffer.alloc(4 * KiB, 7)), true);
    await unlink(path);
    await expect(b.writev(bio(4 * KiB, Buffer.alloc(4 * KiB, 8)), true)).rejects.toMatchObject({ code: 'EIO', fault: 'unlinked' });
    await expect(b.flush()).rejects.toMatchObject({ fault: 'unlinked' });
    expect(existsSync(path)).toBe(false);
    await b.close();
  });

  it('through the block queue: the first failure is a medium error, then the device is offline; counted by cause', async () => {
    const path = fresh();
    const health = new DeviceHealth();
    const q = new BlockQueue(await FileBackstore.open({ path, size: 256 * KiB }), pool, { health });
    await q.write(0, new SgVector([Buffer.alloc(128 * KiB, 3)]), { fua: false });
    await truncate(path, 32 * KiB);
    await expect(q.read(64 * KiB, 4 * KiB)).rejects.toMatchObject({ code: 'IO_ERROR' });
    expect(health.state).toBe('offline');
    expect(health.offline).toMatchObject({ cause: 'truncated' });
    expect(health.offline!.message).toContain(path);
    expect(health.errors.truncated).toBe(1);
    // Offline: nothing more reaches the file, not even a read below the new end.
    await expect(q.read(0, 4 * KiB)).rejects.toMatchObject({ code: 'OFFLINE' });
    await expect(q.write(0, new SgVector([Buffer.alloc(512)]), { fua: false })).rejects.toMatchObject({ code: 'OFFLINE' });
    expect(statSync(path).size).toBe(32 * KiB);
    expect(health.errors.truncated).toBe(1);
    await q.close();
  });

  it('sparse holes still read as zeros, and a file that is whole is served as before', async () => {
    const path = fresh();
    const q = new BlockQueue(await FileBackstore.open({ path, size: 256 * KiB }), pool);
    const r = await q.read(128 * KiB, 64 * KiB);
    expect(r.data.toBuffer().equals(Buffer.alloc(64 * KiB))).toBe(true);
    r.release();
    expect(q.health.state).toBe('serving');
    await q.close();
  });
});

describe('fileState (statx of an open file)', () => {
  it('reports what fstat reports: size and link count, after a truncate and an unlink too', async () => {
    const path = join(dirs[0]!.dir, 'state.img');
    const fd = openSync(path, 'w+');
    try {
      ftruncateSync(fd, 123_456);
      expect(fileState(fd)).toEqual({ size: 123_456, nlink: 1 });
      await truncate(path, 4096);
      expect(fileState(fd)).toEqual({ size: 4096, nlink: 1 });
      await unlink(path);
      expect(fileState(fd)).toEqual({ size: 4096, nlink: 0 });
    } finally {
      closeSync(fd);
    }
    expect(() => fileState(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
