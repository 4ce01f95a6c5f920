import { describe, expect, it } from 'vitest';
import { Mempool } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { DeviceHealth } from '../../../src/block/health.js';
import { NullBackstore } from '../../../src/backstore/null.js';
import { LunRegistry, type LunEntry } from '../../../src/runtime/lun-registry.js';
import { makeLu } from '../scsi/fixture.js';

const A = 'iqn.2026-01.io.scatter:a';
const B = 'iqn.2026-01.io.scatter:b';

function entry(target: string, lun: number, health = new DeviceHealth()): LunEntry {
  const queue = new BlockQueue(new NullBackstore({ size: 1 << 20 }), new Mempool({ pages: 4, pageSize: 4096 }), { health });
  return { target, lun, unit: makeLu(queue, { lun }), queue, backstore: { type: 'null', path: undefined } };
}

describe('LunRegistry', () => {
  it('finds a LUN by target (case-insensitively, as iSCSI names compare) and number', () => {
    const r = new LunRegistry();
    const a0 = entry(A, 0);
    r.set(a0);
    expect(r.get(A, 0)).toBe(a0);
    expect(r.get(A.toUpperCase(), 0)).toBe(a0);
    expect(r.get(A, 1)).toBeUndefined();
    expect(r.get(B, 0)).toBeUndefined();
  });

  it('replaces an entry in place, deletes and returns it', () => {
    const r = new LunRegistry();
    r.set(entry(A, 0));
    const again = entry(A, 0);
    r.set(again);
    expect([...r.all()]).toEqual([again]);
    expect(r.delete(A, 0)).toBe(again);
    expect(r.delete(A, 0)).toBeUndefined();
    expect([...r.all()]).toEqual([]);
  });

  it('lists target by target, each target LUNs ascending', () => {
    const r = new LunRegistry();
    for (const [t, l] of [[A, 5], [B, 1], [A, 0], [A, 2]] as const) r.set(entry(t, l));
    expect([...r.all()].map((e) => `${e.target}/${e.lun}`)).toEqual([`${A}/0`, `${A}/2`, `${A}/5`, `${B}/1`]);
  });

  it("reports a LUN's fault from its device health: offline, failed write-back, none while serving", () => {
    const r = new LunRegistry();
    const offline = new DeviceHealth();
    offline.takeOffline('truncated', 'the file was truncated');
    const writeback = new DeviceHealth();
    writeback.failWriteback('flush', 'fdatasync: EIO');
    r.set(entry(A, 0));
    r.set(entry(A, 1, offline));
    r.set(entry(A, 2, writeback));
    expect([0, 1, 2, 3].map((lun) => r.faultOf(A, lun))).toEqual([undefined, 'offline', 'writeback_failed', undefined]);
  });

  it('closeAll closes every queue', async () => {
    const r = new LunRegistry();
    const a0 = entry(A, 0);
    r.set(a0);
    await r.closeAll();
    await expect(a0.queue!.read(0, 512)).rejects.toMatchObject({ code: 'IO_ERROR' });
  });
});
