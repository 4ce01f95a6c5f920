/**
 * fsyncgate: after one failed fdatasync the queue keeps refusing flushes and FUA writes, even
 * though the next fdatasync would succeed (Linux may have marked the pages clean), until an
 * operator clears it. Over a real file; the one failed fdatasync is injected below the queue
 * (test/integration/backstore-eio.test.ts makes the kernel call itself fail).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackstoreError } from '../../../src/block/backstore-error.js';
import { FileBackstore } from '../../../src/backstore/file.js';
import { DeviceHealth } from '../../../src/block/health.js';
import { Mempool } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { SgVector } from '../../../src/block/sg.js';
import { RecordingBackstore } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-writeback-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The file backstore, whose next fdatasync fails with EIO once (as FileBackstore reports it). */
class FailingSyncOnce extends RecordingBackstore {
  failNext = false;
  override async flush(): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      this.flushes++;
      throw new BackstoreError('EIO', `${join(dir, 'a.img')}: fdatasync: input/output error (EIO)`, { errno: 'EIO', fault: 'flush' });
    }
    await super.flush();
  }
}

describe('a failed write-back is not forgotten', () => {
  it('flush and FUA writes fail until cleared; cached writes and reads go on; counted as flush', async () => {
    const file = await FileBackstore.open({ path: join(dir, 'a.img'), size: 1 << 20 });
    const store = new FailingSyncOnce(file, file.limits);
    const health = new DeviceHealth();
    const q = new BlockQueue(store, new Mempool({ pages: 8, pageSize: 65536 }), { health });
    const data = new SgVector([Buffer.alloc(4096, 0x42)]);

    await q.write(0, data, { fua: false });
    store.failNext = true;
    await expect(q.flush()).rejects.toMatchObject({ code: 'IO_ERROR' });
    expect(health.state).toBe('writeback_failed');
    expect(health.errors.flush).toBe(1);

    // The backstore would now succeed: the queue must not let it promise durability.
    const flushesBefore = store.flushes;
    await expect(q.flush()).rejects.toMatchObject({ code: 'IO_ERROR', message: expect.stringMatching(/write-back failed/) });
    await expect(q.write(4096, data, { fua: true })).rejects.toMatchObject({ code: 'IO_ERROR' });
    expect(store.flushes).toBe(flushesBefore);
    expect(store.records.filter((r) => r.durable)).toHaveLength(0);
    // Only the one real failure is a backstore error; the refusals after it are its consequence.
    expect(health.errors.flush).toBe(1);

    await q.write(8192, data, { fua: false });
    const back = await q.read(8192, 4096);
    expect(back.data.toBuffer().equals(Buffer.alloc(4096, 0x42))).toBe(true);
    back.release();

    expect(q.clearWritebackFailure()).toBe(true);
    expect(health.state).toBe('serving');
    await q.flush();
    await q.write(4096, data, { fua: true });
    expect(q.clearWritebackFailure()).toBe(false);
    await q.close();
  });
});
