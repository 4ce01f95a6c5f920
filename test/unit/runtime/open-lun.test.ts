/**
 * A LUN opened from its config over a real backing file, driven through the real SCSI core: the
 * write-cache rule (WCE) lives in the SCSI core only, and the backstore makes durable exactly what
 * it is asked to; state files land where the per-type factory says.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBackstore } from '../../../src/backstore/file.js';
import { Mempool } from '../../../src/block/mempool.js';
import { ConfigSchema, type LunConfig, type TargetConfig } from '../../../src/config/schema.js';
import { lunState, LunRegistry } from '../../../src/runtime/lun-registry.js';
import { failedLun, openLun, type LunOpenContext } from '../../../src/runtime/open-lun.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import type { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { cdb10, makeNexus, run, sense } from '../scsi/fixture.js';

const IQN = 'iqn.2026-01.io.scatter:runtime';
const log = pino({ level: 'silent' });
let dir: string;
let ctx: LunOpenContext;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-open-lun-'));
  ctx = { pool: new Mempool({ pages: 64, pageSize: 4096 }), poolWaitMs: 1000, stateDir: join(dir, 'state'), log };
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A one-LUN target through the real config schema (every default filled in). */
function target(backstore: Record<string, unknown>): { target: TargetConfig; lun: LunConfig } {
  const config = ConfigSchema.parse({ stateDir: join(dir, 'state'), targets: [{ iqn: IQN, luns: [{ lun: 0, backstore }] }] });
  return { target: config.targets[0]!, lun: config.targets[0]!.luns[0]! };
}

/** A core over the LU, with the nexus's power-on unit attention consumed. */
async function coreOver(unit: LogicalUnit): Promise<ScsiTargetCore> {
  const core = new ScsiTargetCore({ targetName: IQN, luns: [unit], logger: log });
  core.addNexus(makeNexus());
  await run(core, [0x00, 0, 0, 0, 0, 0]);
  return core;
}

const cachingPage = (wce: boolean): number[] => [0x08, 0x12, wce ? 0x04 : 0, ...new Array<number>(17).fill(0)];
const modeSelectCaching = (wce: boolean): { cdb: number[]; data: Buffer } => {
  const list = [0, 0, 0, 0, ...cachingPage(wce)];
  return { cdb: [0x15, 0x10, 0, 0, list.length, 0], data: Buffer.from(list) };
};

function unmap(lba: number, blocks: number): { cdb: number[]; data: Buffer } {
  const b = Buffer.alloc(24);
  b.writeUInt16BE(22, 0);
  b.writeUInt16BE(16, 2);
  b.writeBigUInt64BE(BigInt(lba), 8);
  b.writeUInt32BE(blocks, 16);
  return { cdb: [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], data: b };
}

describe('openLun: a file LUN through the SCSI core', () => {
  it('writeCache: false makes every WRITE durable before GOOD, and a durable UNMAP; MODE SELECT WCE = 1 stops it', async () => {
    const { target: t, lun } = target({ type: 'file', path: join(dir, 'lun0.img'), size: '1MiB', writeCache: false, thin: true });
    const entry = await openLun(t, lun, ctx);
    const core = await coreOver(entry.unit);
    const store = entry.queue!.backstore as FileBackstore;
    try {
      expect(store).toBeInstanceOf(FileBackstore);
      expect(entry.unit.writeCacheEnabled).toBe(false);
      const synced = store.stats.syncs;
      expect((await run(core, cdb10(0x2a, 0, 1), { data: Buffer.alloc(512, 1) })).status).toBe(ScsiStatus.GOOD);
      expect((await run(core, cdb10(0x2a, 8, 1), { data: Buffer.alloc(512, 2) })).status).toBe(ScsiStatus.GOOD);
      expect(store.stats.syncs).toBe(synced + 2);
      const u = unmap(0, 1);
      expect((await run(core, u.cdb, { data: u.data })).status).toBe(ScsiStatus.GOOD);
      expect(store.stats.syncs).toBe(synced + 3);

      const on = modeSelectCaching(true);
      expect((await run(core, on.cdb, { data: on.data })).status).toBe(ScsiStatus.GOOD);
      expect(entry.unit.writeCacheEnabled).toBe(true);
      expect((await run(core, cdb10(0x2a, 16, 1), { data: Buffer.alloc(512, 3) })).status).toBe(ScsiStatus.GOOD);
      expect((await run(core, u.cdb, { data: u.data })).status).toBe(ScsiStatus.GOOD);
      expect(store.stats.syncs).toBe(synced + 3);
      // FUA still asks for durability with the cache on.
      expect((await run(core, cdb10(0x2a, 16, 1, 0x08), { data: Buffer.alloc(512, 4) })).status).toBe(ScsiStatus.GOOD);
      expect(store.stats.syncs).toBe(synced + 4);
    } finally {
      await entry.queue!.close();
    }
  });

  it('serves the configured geometry and thin provisioning, and records the backing file under stateDir', async () => {
    const path = join(dir, 'lun0.img');
    const { target: t, lun } = target({ type: 'file', path, size: '1MiB', blockSize: 4096, physicalBlockSize: 16384, thin: true });
    const entry = await openLun(t, lun, ctx);
    try {
      expect(entry).toMatchObject({ target: IQN, lun: 0, backstore: { type: 'file', path } });
      expect(entry.unit).toMatchObject({ blockSize: 4096, thin: true, writeCacheEnabled: true });
      expect(entry.queue!.physicalBlockSize).toBe(16384);
      expect(lunState(entry)).toBe('serving');
      expect((await stat(path)).size).toBe(1024 * 1024);
      expect((await stat(join(dir, 'state', 'backing'))).isDirectory()).toBe(true);
    } finally {
      await entry.queue!.close();
    }
  });

  it('a null LUN keeps nothing: not thin, no sanitize overwrite, write cache on', async () => {
    const { target: t, lun } = target({ type: 'null', size: '1MiB' });
    const entry = await openLun(t, lun, ctx);
    try {
      expect(entry.backstore).toEqual({ type: 'null', path: undefined });
      expect(entry.unit).toMatchObject({ thin: false, writeCacheEnabled: true });
      expect(entry.queue!.backstore.keepsData).toBe(false);
    } finally {
      await entry.queue!.close();
    }
  });
});

describe('failedLun', () => {
  it('an LU without a queue that answers NOT READY, offline with the cause; the registry reports it', async () => {
    const { target: t, lun } = target({ type: 'file', path: join(dir, 'missing', 'lun0.img'), size: '1MiB', create: 'never' });
    const err = await openLun(t, lun, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ENOENT' });
    const entry = failedLun(t, lun, err, ctx);
    expect(entry.queue).toBeUndefined();
    expect(lunState(entry)).toBe('offline');
    expect(entry.unit.device.health?.errors.not_found).toBe(1);
    const registry = new LunRegistry();
    registry.set(entry);
    expect(registry.faultOf(IQN, 0)).toBe('offline');
    const r = await run(await coreOver(entry.unit), cdb10(0x28, 0, 1));
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(sense(r)).toMatchObject({ key: SenseKey.NOT_READY, asc: 0x04, ascq: 0x03 });
  });
});
