import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingTools, run } from '../helpers/tools.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

/**
 * QEMU's iSCSI driver against a target whose bounce pool is far too small for its load: an
 * O_DIRECT LUN (misaligned Data-Out is bounced, reads land in pool pages) behind 8 pages of 4 KiB,
 * with qemu-img keeping 16 requests of up to 2 MiB in flight. The forward-progress rule of the
 * mempool must carry every request through (waiting for pages, not failing), so the copy completes
 * byte-identical and every page comes back. (Refusals with TASK SET FULL when the wait runs out,
 * and the window narrowing that follows, are tested deterministically in
 * test/integration/pool-pressure.test.ts; QEMU retries those only a few times before failing the
 * I/O, so a pool that gives up after a few milliseconds is not a configuration to run QEMU on.)
 */
const IMAGE_BYTES = 32 * 1024 * 1024;
const missing = missingTools(['qemu-img']);

describe.skipIf(missing.length > 0)('qemu-img against an exhausted bounce pool', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startTestTarget((raw, dir) => {
      raw.memory = { poolPages: 8, pageSize: 4096, poolWaitMs: 2000 };
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'file', path: join(dir, 'direct.img'), size: IMAGE_BYTES, direct: true } },
      ];
    });
  });
  afterAll(() => t?.stop());

  it('convert -W -m 16 into an O_DIRECT LUN and back is byte-identical through 32 KiB of bounce pool', async () => {
    const source = join(t.dir, 'source.raw');
    const back = join(t.dir, 'back.raw');
    const original = randomBytes(IMAGE_BYTES);
    writeFileSync(source, original);
    const url = `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`;
    const into = await run('qemu-img', ['convert', '-W', '-m', '16', '-f', 'raw', '-O', 'raw', '-n', source, url], 180_000);
    expect(into.code, into.stderr).toBe(0);
    expect(readFileSync(join(t.dir, 'direct.img')).equals(original)).toBe(true);
    const out = await run('qemu-img', ['convert', '-m', '16', '-f', 'raw', url, '-O', 'raw', back], 180_000);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(back).equals(original)).toBe(true);
    // The pool really was the bottleneck: requests had to wait for pages; and every page came back.
    expect(t.scatter.pool.stats.waits).toBeGreaterThan(0);
    expect(t.scatter.pool.inUse).toBe(0);
  }, 400_000);
});
