/** LUs added, removed and resized at runtime: the LUN inventory, task abort, and their unit attentions. */
import { describe, expect, it } from 'vitest';
import { NullBackstore } from '../../../src/backstore/null.js';
import type { BlockDevice } from '../../../src/block/device.js';
import { Mempool } from '../../../src/block/mempool.js';
import { BlockQueue } from '../../../src/block/queue.js';
import { ScsiStatus, type Nexus } from '../../../src/scsi/command.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { UnitAttentionQueue } from '../../../src/scsi/unit-attention.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, dataOf, gate, makeLu, makeNexus, run, send, sense, settle, TARGET } from './fixture.js';

const TUR = [0x00, 0, 0, 0, 0, 0];
const REPORT_LUNS = [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
const READ_CAPACITY_16 = [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0];
const CAPACITY_CHANGED = { key: 6, asc: 0x2a, ascq: 0x09 };
const LUNS_CHANGED = { key: 6, asc: 0x3f, ascq: 0x0e };
const POWER_ON_RESET = { key: 6, asc: 0x29, ascq: 0x00 };
const NOT_SUPPORTED = { key: 5, asc: 0x25, ascq: 0x00 };

const pool = new Mempool({ pages: 4, pageSize: 65536 });

function nullQueue(bytes: number): BlockQueue {
  return new BlockQueue(new NullBackstore({ size: bytes }), pool);
}

/** A core with the given LUs and two nexuses whose power-on unit attentions are consumed. */
async function coreWith(luns: number[], device: (lun: number) => BlockDevice = (lun) => nullQueue((lun + 1) * 1024 * 1024)) {
  const core = new ScsiTargetCore({ targetName: TARGET, luns: luns.map((lun) => makeLu(device(lun), { lun })) });
  const nexuses = [makeNexus(1), makeNexus(2)];
  for (const nexus of nexuses) {
    core.addNexus(nexus);
    for (const lun of luns) await run(core, TUR, { lun, nexus });
  }
  return { core, nexuses };
}

function reportedLuns(data: Buffer): number[] {
  const out: number[] = [];
  for (let i = 8; i + 8 <= 8 + data.readUInt32BE(0); i += 8) out.push(data.readUInt16BE(i) & 0x3fff);
  return out;
}

async function expectOnce(core: ScsiTargetCore, nexus: Nexus, lun: number, ua: object): Promise<void> {
  expect(sense(await run(core, TUR, { lun, nexus }))).toEqual(ua);
  expect((await run(core, TUR, { lun, nexus })).status).toBe(ScsiStatus.GOOD);
}

describe('resizeLogicalUnit', () => {
  it('grows the LU: every nexus gets CAPACITY DATA HAS CHANGED once, then READ CAPACITY shows the new size', async () => {
    const { core, nexuses } = await coreWith([0, 1]);
    expect(await core.resizeLogicalUnit(0, { size: 4 * 1024 * 1024 })).toEqual({ oldSize: 1024 * 1024, newSize: 4 * 1024 * 1024 });
    for (const nexus of nexuses) {
      await expectOnce(core, nexus, 0, CAPACITY_CHANGED);
      const cap = dataOf(await run(core, READ_CAPACITY_16, { nexus }));
      expect(cap.readBigUInt64BE(0)).toBe(BigInt(4 * 2048 - 1));
      // The other LU is untouched.
      expect((await run(core, TUR, { lun: 1, nexus })).status).toBe(ScsiStatus.GOOD);
    }
    // Blocks past the old end are now addressable.
    expect((await run(core, cdb10(0x28, 4 * 2048 - 1, 1), { nexus: nexuses[0] })).status).toBe(ScsiStatus.GOOD);
  });

  it('refuses a shrink unless allowed, and changes nothing then', async () => {
    const { core, nexuses } = await coreWith([0]);
    await expect(core.resizeLogicalUnit(0, { size: 512 * 1024 })).rejects.toThrow(/shrinking .* would lose the data/);
    expect(core.getLogicalUnit(0)!.numBlocks).toBe(2048);
    expect((await run(core, TUR, { nexus: nexuses[0] })).status).toBe(ScsiStatus.GOOD);
    await core.resizeLogicalUnit(0, { size: 512 * 1024, allowShrink: true });
    expect(core.getLogicalUnit(0)!.numBlocks).toBe(1024);
    await expectOnce(core, nexuses[0]!, 0, CAPACITY_CHANGED);
    expect(sense(await run(core, cdb10(0x28, 1024, 1), { nexus: nexuses[0] }))).toEqual({ key: 5, asc: 0x21, ascq: 0 });
  });

  it('raises nothing when the size did not change, and rejects for a missing LU', async () => {
    const { core, nexuses } = await coreWith([0]);
    await core.resizeLogicalUnit(0, { size: 1024 * 1024 });
    expect((await run(core, TUR, { nexus: nexuses[0] })).status).toBe(ScsiStatus.GOOD);
    await expect(core.resizeLogicalUnit(5, { size: 1024 * 1024 })).rejects.toThrow(/LUN 5 does not exist/);
  });

  it('two resizes before the initiator looks are reported once', async () => {
    const { core, nexuses } = await coreWith([0]);
    await core.resizeLogicalUnit(0, { size: 2 * 1024 * 1024 });
    await core.resizeLogicalUnit(0, { size: 3 * 1024 * 1024 });
    await expectOnce(core, nexuses[0]!, 0, CAPACITY_CHANGED);
  });
});

describe('addLogicalUnit', () => {
  it('REPORT LUNS lists it; the others report REPORTED LUNS DATA HAS CHANGED, the new one POWER ON', async () => {
    const { core, nexuses } = await coreWith([0, 2]);
    core.addLogicalUnit(makeLu(nullQueue(1024 * 1024), { lun: 1 }));
    expect(core.lunNumbers).toEqual([0, 1, 2]);
    for (const nexus of nexuses) {
      expect(reportedLuns(dataOf(await run(core, REPORT_LUNS, { nexus })))).toEqual([0, 1, 2]);
      await expectOnce(core, nexus, 0, LUNS_CHANGED);
      await expectOnce(core, nexus, 2, LUNS_CHANGED);
      await expectOnce(core, nexus, 1, POWER_ON_RESET);
    }
    expect((await run(core, cdb10(0x2a, 0, 1), { lun: 1, data: Buffer.alloc(512), nexus: nexuses[0] })).status).toBe(ScsiStatus.GOOD);
    expect(() => core.addLogicalUnit(makeLu(nullQueue(1024 * 1024), { lun: 1 }))).toThrow(/LUN 1 already exists/);
  });
});

describe('removeLogicalUnit', () => {
  it('aborts its tasks (queued and executing end), then it is gone and the others report the change', async () => {
    const held = gate();
    const dev = new MemDevice(64);
    dev.beforeIo = () => held.promise;
    const { core, nexuses } = await coreWith([0, 1], (lun) => (lun === 1 ? dev : nullQueue(1024 * 1024)));
    const [a, b] = nexuses as [Nexus, Nexus];
    const executing = send(core, cdb10(0x28, 0, 1), { lun: 1, nexus: a });
    const queued = send(core, cdb10(0x28, 1, 1), { lun: 1, nexus: b, attr: 'ordered' });
    await settle();
    let removed = false;
    const removal = core.removeLogicalUnit(1).then((lu) => {
      removed = true;
      return lu;
    });
    expect((await queued.response).status).toBe(ScsiStatus.TASK_ABORTED);
    await settle();
    expect(removed).toBe(false); // the executing read is still in the device
    held.open();
    expect((await executing.response).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await removal)?.lun).toBe(1);

    for (const nexus of nexuses) {
      expect(sense(await run(core, TUR, { lun: 1, nexus }))).toEqual(NOT_SUPPORTED);
      expect(reportedLuns(dataOf(await run(core, REPORT_LUNS, { nexus })))).toEqual([0]);
      await expectOnce(core, nexus, 0, LUNS_CHANGED);
    }
    expect(core.lunNumbers).toEqual([0]);
    expect(await core.removeLogicalUnit(1)).toBeUndefined();
  });
});

describe('unit attention priorities of these conditions', () => {
  it('come after reset and nexus-loss conditions, oldest first among parameter changes', () => {
    const q = new UnitAttentionQueue();
    q.push({ asc: 0x3f, ascq: 0x0e });
    q.push({ asc: 0x2a, ascq: 0x09 });
    q.push({ asc: 0x2a, ascq: 0x01 });
    q.push({ asc: 0x29, ascq: 0x07 });
    q.push({ asc: 0x29, ascq: 0x00 });
    q.push({ asc: 0x2a, ascq: 0x09 }); // already pending: not repeated
    expect([q.take(), q.take(), q.take(), q.take(), q.take(), q.take()]).toEqual([
      { asc: 0x29, ascq: 0x00 },
      { asc: 0x29, ascq: 0x07 },
      { asc: 0x3f, ascq: 0x0e },
      { asc: 0x2a, ascq: 0x09 },
      { asc: 0x2a, ascq: 0x01 },
      undefined,
    ]);
  });

  it('a LU reset after a resize reports the reset first, then the capacity change', async () => {
    const { core, nexuses } = await coreWith([0]);
    await core.resizeLogicalUnit(0, { size: 2 * 1024 * 1024 });
    await core.lunReset(nexuses[0]!, 0);
    expect(sense(await run(core, TUR, { nexus: nexuses[1] }))).toEqual({ key: 6, asc: 0x29, ascq: 0x03 });
    await expectOnce(core, nexuses[1]!, 0, CAPACITY_CHANGED);
  });
});
