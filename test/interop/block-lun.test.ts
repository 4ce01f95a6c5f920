import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCunit } from '../helpers/cunit.js';
import { createLoop, loopAvailable, type LoopDevice } from '../helpers/loop.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { missingTools, run } from '../helpers/tools.js';

const DEVICE = 64 * 1024 * 1024;
/** libiscsi runs these only when LOGICAL BLOCKS PER PHYSICAL BLOCK > 1 (the LU reports 1). */
const LBPPB_ONLY = new Set(['InvalidDataOutSize', 'UnmapUnaligned']);
const SUITES = [
  'ALL.Read10',
  'ALL.Read12',
  'ALL.Read16',
  'ALL.Write10',
  'ALL.Write12',
  'ALL.Write16',
  'ALL.WriteSame10',
  'ALL.WriteSame16',
  'ALL.Unmap',
  'ALL.Verify10',
  'ALL.Verify12',
  'ALL.Verify16',
];

// Evaluated in this order so that under CI both a missing tool and a missing losetup fail loudly.
const missing = missingTools(['qemu-img', 'iscsi-test-cu', 'iscsi-readcapacity16']);
const canLoop = loopAvailable();

describe.skipIf(missing.length > 0 || !canLoop)('block LUNs on loop devices (512 and 4096-byte sectors, O_DIRECT)', () => {
  let t: TestTarget;
  const loops: LoopDevice[] = [];
  const lunDev = (lun: number): string => (lun === 2 ? join(t.dir, 'direct.img') : loops[lun]!.dev);

  beforeAll(async () => {
    loops.push(createLoop(DEVICE, 512), createLoop(DEVICE, 4096));
    t = await startTestTarget((raw, dir) => {
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'block', path: loops[0]!.dev } },
        { lun: 1, backstore: { type: 'block', path: loops[1]!.dev } },
        { lun: 2, backstore: { type: 'file', path: join(dir, 'direct.img'), size: DEVICE, blockSize: 4096, direct: true } },
      ];
    });
  });
  afterAll(async () => {
    await t?.stop();
    for (const l of loops) l.detach();
  });

  const url = (lun: number): string => `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/${lun}`;

  it.each([
    [0, 512],
    [1, 4096],
  ])('READ CAPACITY(16) of LUN %i reports the device: %i-byte blocks, whole size, thin', async (lun, block) => {
    const r = await run('iscsi-readcapacity16', [url(lun)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`LOGICAL BLOCK LENGTH IN BYTES:${block}\\b`));
    expect(r.stdout).toMatch(new RegExp(`Total size:\\s*${DEVICE}\\b`));
    expect(r.stdout).toMatch(/LBPME:1/);
  });

  it.each([0, 1, 2])('qemu-img convert into LUN %i (block 512, block 4096, file direct) and back is byte-identical, and the bytes are on the device', async (lun) => {
    const original = randomBytes(DEVICE);
    const source = join(t.dir, `source-${lun}.raw`);
    const back = join(t.dir, `back-${lun}.raw`);
    writeFileSync(source, original);
    const into = await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', '-n', source, url(lun)], 120_000);
    expect(into.code, into.stderr).toBe(0);
    // Read the loop device itself, bypassing the target.
    expect(readFileSync(lunDev(lun)).equals(original)).toBe(true);
    const out = await run('qemu-img', ['convert', '-f', 'raw', url(lun), '-O', 'raw', back], 120_000);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(back).equals(original)).toBe(true);
    // Over iSCSI, Data-Out lands in heap buffers (bounced); reads land in pool pages (direct).
    const q = t.scatter.queues.get(`${TEST_IQN}/${lun}`)!;
    expect(q.stats.bouncedBytes).toBeGreaterThanOrEqual(DEVICE);
    expect(q.stats.directBytes).toBeGreaterThanOrEqual(DEVICE);
  });

  for (const name of SUITES) {
    it.each([0, 1])(`${name} on block LUN %i: no FAILED, no SKIPPED but the LBPPB-only tests`, async (lun) => {
      const r = await run('iscsi-test-cu', ['-d', '-v', '-t', name, url(lun)], 300_000);
      const out = r.stdout + r.stderr;
      const res = parseCunit(out);
      expect(res.summary, out).toBeDefined();
      expect(res.summary!.ran, out).toBeGreaterThan(0);
      expect(res.failed, out).toEqual([]);
      expect(res.skipped.filter((s) => !LBPPB_ONLY.has(s)), out).toEqual([]);
      expect(r.code, out).toBe(0);
    });
  }
});
