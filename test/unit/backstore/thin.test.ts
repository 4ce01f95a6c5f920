import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackstore } from '../../../src/backstore/file.js';
import { allocationRun, fileCallsAvailable, punchHole } from '../../../src/native/file-calls.js';
import { SyscallError } from '../../../src/native/libc.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { Mempool } from '../../../src/block/mempool.js';
import { SgVector } from '../../../src/block/sg.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-thin-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = (): string => join(dir, `thin${n++}.img`);
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

// Linux with libc is what this project runs on; the native calls must load there.
describe('ffi (fallocate, SEEK_DATA / SEEK_HOLE)', () => {
  it('loads on Linux', () => {
    expect(process.platform === 'linux' ? fileCallsAvailable() : true).toBe(true);
  });

  it('reports data and holes, and a punched hole reads as zeros with the size kept', () => {
    const path = fresh();
    const fd = openSync(path, 'w+');
    try {
      writeSync(fd, Buffer.alloc(CHUNK, 7), 0, CHUNK, CHUNK); // data at [64K, 128K)
      writeSync(fd, Buffer.alloc(1), 0, 1, MiB - 1); // size 1 MiB
      expect(allocationRun(fd, 0, MiB)).toEqual({ mapped: false, end: CHUNK });
      expect(allocationRun(fd, CHUNK, MiB)).toEqual({ mapped: true, end: 2 * CHUNK });
      punchHole(fd, CHUNK, CHUNK);
      expect(allocationRun(fd, 0, MiB).mapped).toBe(false);
      expect(allocationRun(fd, 0, MiB).end).toBeGreaterThanOrEqual(2 * CHUNK);
      const back = Buffer.alloc(CHUNK, 1);
      readSync(fd, back, 0, CHUNK, CHUNK);
      expect(back.every((b) => b === 0)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('turns a failing call into a SyscallError naming errno', () => {
    expect(() => punchHole(-1, 0, 4096)).toThrow(SyscallError);
    try {
      punchHole(-1, 0, 4096);
    } catch (err) {
      expect((err as SyscallError).code).toBe('EBADF');
    }
  });
});

describe('FileBackstore with thin: true', () => {
  async function open(thin: boolean): Promise<{ fb: FileBackstore; q: BlockQueue; path: string }> {
    const path = fresh();
    const fb = await FileBackstore.open({ path, size: 4 * MiB, thin });
    return { fb, q: new BlockQueue(fb, new Mempool({ pages: 8, pageSize: CHUNK })), path };
  }

  it('discard punches holes: the blocks read back as zeros and the file gives the space back', async () => {
    const { fb, q, path } = await open(true);
    await q.write(0, new SgVector([Buffer.alloc(MiB, 0xab)]), { fua: true });
    const before = (await stat(path)).blocks;
    await q.discard([{ offset: 0, length: MiB / 2 }]);
    const after = (await stat(path)).blocks;
    expect(after).toBeLessThan(before);
    expect((await stat(path)).size).toBe(4 * MiB);
    const r = await q.read(0, MiB);
    const data = r.data.toBuffer();
    expect(data.subarray(0, MiB / 2).every((b) => b === 0)).toBe(true);
    expect(data.subarray(MiB / 2).every((b) => b === 0xab)).toBe(true);
    r.release();
    expect(await q.allocationRun(0)).toEqual({ mapped: false, end: MiB / 2 });
    expect(await q.allocationRun(MiB / 2)).toEqual({ mapped: true, end: MiB });
    expect(await q.allocationRun(MiB)).toEqual({ mapped: false, end: 4 * MiB });
    await fb.close();
  });

  it('without thin, discard leaves the data (and the LU must not offer UNMAP)', async () => {
    const { fb, q } = await open(false);
    await q.write(0, new SgVector([Buffer.alloc(CHUNK, 0xcd)]), { fua: false });
    await q.discard([{ offset: 0, length: CHUNK }]);
    const r = await q.read(0, CHUNK);
    expect(r.data.toBuffer().every((b) => b === 0xcd)).toBe(true);
    r.release();
    await fb.close();
  });

  it('refuses a discard beyond the capacity', async () => {
    const { fb, q } = await open(true);
    await expect(q.discard([{ offset: 4 * MiB - 512, length: 1024 }])).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await fb.close();
  });
});
