import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileBackstore } from '../../../src/backstore/file.js';
import { NullBackstore } from '../../../src/backstore/null.js';
import { openBackstore, type BackstoreSpec } from '../../../src/backstore/open.js';

describe('openBackstore', () => {
  it('opens a file backstore with its options', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scatter-open-'));
    try {
      const path = join(dir, 'a.img');
      const b = await openBackstore({ type: 'file', path, size: 1 << 20, blockSize: 4096, writeCache: false });
      expect(b).toBeInstanceOf(FileBackstore);
      expect(b).toMatchObject({ size: 1 << 20, blockSize: 4096, readOnly: false, writeCache: false });
      expect((await stat(path)).size).toBe(1 << 20);
      await b.close();
      const ro = await openBackstore({ type: 'file', path, readOnly: true });
      expect(ro.readOnly).toBe(true);
      await ro.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens a null backstore', async () => {
    const b = await openBackstore({ type: 'null', size: 8192 });
    expect(b).toBeInstanceOf(NullBackstore);
    expect(b).toMatchObject({ size: 8192, blockSize: 512 });
  });

  it('rejects an unknown type with EINVAL', async () => {
    const bogus = { type: 'tape', size: 1 } as unknown as BackstoreSpec;
    await expect(openBackstore(bogus)).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
