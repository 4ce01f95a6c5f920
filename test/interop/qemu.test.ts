import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingTools, run } from '../helpers/tools.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const CHAP_IQN = 'iqn.2026-11.io.scatter:qemu-chap';
const USER = 'qemu-user';
const SECRET = 'qemu-secret-12345';
const IMAGE_BYTES = 64 * 1024 * 1024;

const missing = missingTools(['qemu-img']);

describe.skipIf(missing.length > 0)('QEMU iSCSI driver (qemu-img)', () => {
  let t: TestTarget;
  let source: string;
  let original: Buffer;

  beforeAll(async () => {
    t = await startTestTarget((raw, dir) => {
      const targets = raw.targets as { luns: unknown[] }[];
      // A LUN exactly as large as the image, so the round trip compares whole devices.
      targets[0]!.luns = [{ lun: 0, backstore: { type: 'file', path: join(dir, 'lun0.img'), size: IMAGE_BYTES } }];
      targets.push({
        iqn: CHAP_IQN,
        auth: { method: 'chap', user: USER, secret: SECRET },
        luns: [{ lun: 0, backstore: { type: 'file', path: join(dir, 'chap.img'), size: IMAGE_BYTES } }],
      } as { luns: unknown[] });
    });
    source = join(t.dir, 'source.raw');
    original = randomBytes(IMAGE_BYTES);
    writeFileSync(source, original);
  });
  afterAll(() => t?.stop());

  async function roundTrip(target: string[], label: string): Promise<void> {
    const back = join(t.dir, `back-${label}.raw`);
    const output = target[0] === '--target-image-opts' ? target : ['-O', 'raw', ...target];
    const into = await run('qemu-img', ['convert', '-f', 'raw', '-n', source, ...output], 120_000);
    expect(into.code, into.stderr).toBe(0);
    const backing = target[target.length - 1]!.includes(CHAP_IQN) ? 'chap.img' : 'lun0.img';
    expect(readFileSync(join(t.dir, backing)).equals(original)).toBe(true);
    const out = await run('qemu-img', ['convert', ...(target[0] === '--target-image-opts' ? ['--image-opts', target[1]!] : ['-f', 'raw', target[0]!]), '-O', 'raw', back], 120_000);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(back).equals(original)).toBe(true);
  }

  it('convert of a 64 MiB random image into the LUN and back is byte-identical', async () => {
    await roundTrip([`iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`], 'plain');
  });

  it('the same with header digests (image options)', async () => {
    original = randomBytes(IMAGE_BYTES);
    writeFileSync(source, original);
    const opts = `driver=iscsi,transport=tcp,portal=127.0.0.1:${t.port},target=${TEST_IQN},lun=0,header-digest=crc32c`;
    await roundTrip(['--target-image-opts', opts], 'digest');
  });

  it('the same with CHAP credentials in the URL', async () => {
    await roundTrip([`iscsi://${USER}%${SECRET}@127.0.0.1:${t.port}/${CHAP_IQN}/0`], 'chap');
  });

  it('qemu-img bench reads and writes at queue depth 32 without error', async () => {
    const url = `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`;
    const w = await run('qemu-img', ['bench', '-f', 'raw', '-t', 'none', '-w', '-d', '32', '-c', '20000', '-s', '4096', '-S', String(4096 * 7919), '--pattern=165', url], 120_000);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/Run completed in/);
    const r = await run('qemu-img', ['bench', '-f', 'raw', '-t', 'none', '-d', '32', '-c', '20000', '-s', '4096', url], 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Run completed in/);
    // The pattern really landed: block 7919 (the second write) holds 0xA5.
    const disk = readFileSync(join(t.dir, 'lun0.img'));
    expect(disk.subarray(4096 * 7919, 4096 * 7920).every((b) => b === 0xa5)).toBe(true);
  });
});
