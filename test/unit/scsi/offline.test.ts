/**
 * The SCSI side of backstore faults, over a real file behind a real block queue: the command that
 * meets a truncated file gets MEDIUM ERROR, the LU is NOT READY (MANUAL INTERVENTION REQUIRED)
 * from then on for all but INQUIRY / REPORT LUNS / REQUEST SENSE; a failed LU does the same from
 * the start; replacing it raises POWER ON; a device that shrank raises CAPACITY DATA HAS CHANGED.
 */
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackstore } from '../../../src/backstore/file.js';
import { FailedDevice } from '../../../src/block/failed-device.js';
import { DeviceHealth } from '../../../src/block/health.js';
import { Mempool } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { dataOf, makeLu, makeNexus, run, sense, TARGET } from './fixture.js';

const TUR = [0x00, 0, 0, 0, 0, 0];
const INQUIRY = [0x12, 0, 0, 0, 96, 0];
const REPORT_LUNS = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0];
const REQUEST_SENSE = [0x03, 0, 0, 0, 252, 0];
const SYNC_CACHE = [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const read10 = (lba: number, blocks: number) => [0x28, 0, 0, 0, (lba >> 8) & 0xff, lba & 0xff, 0, 0, blocks, 0];
const write10 = (lba: number, blocks: number) => [0x2a, 0, 0, 0, (lba >> 8) & 0xff, lba & 0xff, 0, 0, blocks, 0];
const NOT_READY = { key: 0x2, asc: 0x04, ascq: 0x03 };

let dir: string;
const pool = new Mempool({ pages: 8, pageSize: 65536 });
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-offline-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileLu(name: string) {
  const path = join(dir, name);
  const queue = new BlockQueue(await FileBackstore.open({ path, size: 1 << 20 }), pool);
  const lu = makeLu(queue);
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
  const nexus = makeNexus();
  core.addNexus(nexus);
  await run(core, TUR, { nexus });
  return { path, queue, lu, core, nexus };
}

describe('an LU whose backing file was truncated', () => {
  it('the read that finds it: MEDIUM ERROR; then NOT READY for everything that needs the medium', async () => {
    const { path, queue, core, nexus } = await fileLu('t.img');
    expect((await run(core, write10(0, 16), { nexus, data: Buffer.alloc(8192, 1) })).status).toBe(ScsiStatus.GOOD);
    await truncate(path, 4096);
    const r = await run(core, read10(100, 1), { nexus });
    expect(sense(r)).toMatchObject({ key: 0x3, asc: 0x11, ascq: 0x00, information: 100 });
    for (const cdb of [TUR, read10(0, 1), write10(0, 1), SYNC_CACHE]) {
      const refused = await run(core, cdb, { nexus, data: Buffer.alloc(512) });
      expect(refused.status).toBe(ScsiStatus.CHECK_CONDITION);
      expect(sense(refused)).toMatchObject(NOT_READY);
    }
    expect((await run(core, INQUIRY, { nexus })).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, REPORT_LUNS, { nexus })).status).toBe(ScsiStatus.GOOD);
    const polled = dataOf(await run(core, REQUEST_SENSE, { nexus }));
    expect([polled[2]! & 0x0f, polled[12], polled[13]]).toEqual([0x2, 0x04, 0x03]);
    await queue.close();
  });

  it('the write that finds it: MEDIUM ERROR WRITE ERROR, and the file is not extended', async () => {
    const { path, queue, core, nexus } = await fileLu('w.img');
    await truncate(path, 4096);
    const r = await run(core, write10(1000, 1), { nexus, data: Buffer.alloc(512, 9) });
    expect(sense(r)).toMatchObject({ key: 0x3, asc: 0x0c, ascq: 0x00, information: 1000 });
    expect(sense(await run(core, TUR, { nexus }))).toMatchObject(NOT_READY);
    await queue.close();
  });
});

describe('an LU that could not be opened, and one put in its place', () => {
  it('answers NOT READY from the start; replaced by a working LU, each nexus sees POWER ON once', async () => {
    const health = new DeviceHealth();
    health.takeOffline('not_found', '/dev/nowhere: open: no such file or directory (ENOENT)');
    const failed = makeLu(new FailedDevice(512, false, health), { lun: 2 });
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [failed] });
    const nexus = makeNexus();
    core.addNexus(nexus);
    await run(core, TUR, { nexus, lun: 2 }); // power-on UA
    expect(sense(await run(core, TUR, { nexus, lun: 2 }))).toMatchObject(NOT_READY);
    expect(sense(await run(core, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { nexus, lun: 2 }))).toMatchObject(NOT_READY);

    const queue = new BlockQueue(await FileBackstore.open({ path: join(dir, 'r.img'), size: 1 << 20 }), pool);
    const old = await core.replaceLogicalUnit(makeLu(queue, { lun: 2 }), { powerOn: true });
    expect(old).toBe(failed);
    expect(core.lunNumbers).toEqual([2]);
    expect(sense(await run(core, TUR, { nexus, lun: 2 }))).toMatchObject({ key: 0x6, asc: 0x29, ascq: 0x00 });
    expect((await run(core, TUR, { nexus, lun: 2 })).status).toBe(ScsiStatus.GOOD);
    await queue.close();
  });

  it('a device that shrank underneath raises CAPACITY DATA HAS CHANGED on every nexus', async () => {
    const { queue, core, nexus } = await fileLu('c.img');
    const other = makeNexus(2);
    core.addNexus(other);
    await run(core, TUR, { nexus: other });
    queue.health.capacityChanged();
    for (const n of [nexus, other]) expect(sense(await run(core, TUR, { nexus: n }))).toMatchObject({ key: 0x6, asc: 0x2a, ascq: 0x09 });
    await queue.close();
  });
});
