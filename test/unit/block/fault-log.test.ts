/** Backstore errors are logged per LU and cause: the first at once, then one line per interval with a count. */
import { describe, expect, it } from 'vitest';
import { RateLimitedFaultLog } from '../../../src/block/fault-log.js';
import type { FaultReport } from '../../../src/block/health.js';

function recorder() {
  const lines: { level: 'warn' | 'error'; obj: Record<string, unknown>; msg: string | undefined }[] = [];
  return {
    lines,
    log: {
      warn: (obj: object, msg?: string) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      error: (obj: object, msg?: string) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
    },
  };
}

const eio = (offset: number): FaultReport => ({ cause: 'eio', op: 'write', offset, length: 8192, errno: 'EIO', message: `/d/a.img: write: input/output error (EIO)` });

describe('RateLimitedFaultLog', () => {
  it('logs the first error of a cause at once with target, LUN, path, operation, LBA range and errno', () => {
    const r = recorder();
    const f = new RateLimitedFaultLog({ log: r.log, where: { target: 'iqn.x', lun: 3, path: '/d/a.img' }, blockSize: 512, now: () => 0 });
    f.report(eio(4096 + 512));
    expect(r.lines).toEqual([
      {
        level: 'error',
        msg: 'backstore error',
        obj: {
          target: 'iqn.x',
          lun: 3,
          path: '/d/a.img',
          op: 'write',
          cause: 'eio',
          errno: 'EIO',
          lba: 9,
          blocks: 16,
          reason: '/d/a.img: write: input/output error (EIO)',
        },
      },
    ]);
  });

  it('then at most one line per interval and cause, saying how many were suppressed; causes are apart', () => {
    const r = recorder();
    let now = 0;
    const f = new RateLimitedFaultLog({ log: r.log, where: { lun: 0 }, blockSize: 512, intervalMs: 10_000, now: () => now });
    for (let i = 0; i < 100; i++) f.report(eio(i * 512));
    f.report({ cause: 'enospc', op: 'write', offset: 0, length: 512, errno: 'ENOSPC', message: 'full' });
    expect(r.lines.map((l) => [l.level, l.obj.cause])).toEqual([
      ['error', 'eio'],
      ['warn', 'enospc'],
    ]);
    now = 9_999;
    f.report(eio(0));
    expect(r.lines).toHaveLength(2);
    now = 10_000;
    f.report(eio(0));
    expect(r.lines).toHaveLength(3);
    expect(r.lines[2]!.obj).toMatchObject({ cause: 'eio', suppressed: 100 });
    now = 25_000;
    f.report(eio(0));
    expect(r.lines[3]!.obj.suppressed).toBeUndefined();
  });

  it('an error without a range (flush, persist) has no LBA fields', () => {
    const r = recorder();
    const f = new RateLimitedFaultLog({ log: r.log, where: {}, blockSize: 4096, now: () => 0 });
    f.report({ cause: 'flush', op: 'flush', errno: 'EIO', message: 'fdatasync failed' });
    expect(r.lines[0]!.obj).toEqual({ op: 'flush', cause: 'flush', errno: 'EIO', reason: 'fdatasync failed' });
  });
});
