import { describe, expect, it } from 'vitest';
import { NullBackstore } from '../../../src/backstore/null.js';

describe('NullBackstore', () => {
  it('accepts writes, reads zeros', async () => {
    const b = new NullBackstore({ size: 1024 * 1024, blockSize: 4096 });
    expect(b).toMatchObject({ kind: 'null', size: 1024 * 1024, blockSize: 4096, readOnly: false });
    await b.writev({ offset: 0, segments: [Buffer.alloc(4096, 1)], length: 4096 }, true);
    const segs = [Buffer.alloc(100, 0xff), Buffer.alloc(3996, 0xff)];
    await b.readv({ offset: 0, segments: segs, length: 4096 });
    expect(segs.every((s) => s.every((x) => x === 0))).toBe(true);
    await b.flush();
    await b.discard([{ offset: 0, length: 4096 }]);
  });

  it('validates geometry and ranges, and refuses I/O after close', async () => {
    expect(() => new NullBackstore({ size: 1000 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => new NullBackstore({ size: 4096, blockSize: 1000 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const b = new NullBackstore({ size: 4096 });
    expect(b.blockSize).toBe(512);
    await expect(b.readv({ offset: 4000, segments: [Buffer.alloc(512)], length: 512 })).rejects.toMatchObject({ code: 'EINVAL' });
    await b.close();
    await expect(b.writev({ offset: 0, segments: [Buffer.alloc(512)], length: 512 }, false)).rejects.toMatchObject({ code: 'ECLOSED' });
  });
});
