import { Cancellation } from '../../../src/block/cancel.js';
import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, gate, makeCommand, makeLu, makeNexus, run, send, sense, settle, TARGET } from './fixture.js';

const TUR = [0x00, 0, 0, 0, 0, 0];

/** Two LUs, two nexuses (UAs consumed), and a way to hold I/O at chosen LBAs of LU 0. */
async function world() {
  const dev0 = new MemDevice(64);
  const dev1 = new MemDevice(64);
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [makeLu(dev0), makeLu(dev1, { lun: 1 })] });
  const a = makeNexus(1);
  const b = makeNexus(2);
  for (const n of [a, b]) {
    core.addNexus(n);
    for (const lun of [0, 1]) await run(core, TUR, { nexus: n, lun });
  }
  const held = new Map<number, ReturnType<typeof gate>>();
  const started: number[] = [];
  dev0.beforeIo = async (_op, offset) => {
    started.push(offset / 512);
    await held.get(offset / 512)?.promise;
  };
  const hold = (lba: number) => {
    const g = gate();
    held.set(lba, g);
    return g;
  };
  return { core, dev0, a, b, hold, started };
}

describe('ABORT TASK', () => {
  it('a task waiting in the task set ends with TASK ABORTED without any I/O, and stops blocking others', async () => {
    const { core, a, hold, started } = await world();
    const g = hold(1);
    const first = send(core, cdb10(0x28, 1, 1), { nexus: a });
    const ordered = send(core, cdb10(0x28, 2, 1), { nexus: a, attr: 'ordered', tag: 500 });
    const after = send(core, cdb10(0x28, 3, 1), { nexus: a });
    await settle();
    expect(core.abortTask(a, 0, 500)).toBe('complete');
    expect((await ordered.response).status).toBe(ScsiStatus.TASK_ABORTED);
    g.open();
    await Promise.all([first.response, after.response]);
    expect(started).toEqual([1, 3]);
  });

  it('an executing task answers only once its I/O has settled, drops the data and gives the pages back', async () => {
    const { core, dev0, a, hold } = await world();
    const g = hold(4);
    const t = send(core, cdb10(0x28, 4, 1), { nexus: a, tag: 77 });
    await settle();
    expect(core.abortTask(a, 0, 77)).toBe('complete');
    let answered = false;
    void t.response.then(() => (answered = true));
    await settle();
    expect(answered).toBe(false);
    g.open();
    const r = await t.response;
    expect(r.status).toBe(ScsiStatus.TASK_ABORTED);
    expect(r.dataIn).toBeUndefined();
    expect(dev0.released).toBe(1);
  });

  it('an aborted write that was already on its way still lands before TASK ABORTED (nothing after the TMF)', async () => {
    const { core, dev0, a, hold } = await world();
    const g = hold(0);
    const t = send(core, cdb10(0x2a, 0, 1), { nexus: a, tag: 9, data: Buffer.alloc(512, 0xaa) });
    await settle();
    core.abortTask(a, 0, 9);
    g.open();
    expect((await t.response).status).toBe(ScsiStatus.TASK_ABORTED);
    expect(dev0.buffer[0]).toBe(0xaa);
  });

  it('an unknown tag, another nexus tag, or a LUN without LU is "not found"', async () => {
    const { core, a, b, hold } = await world();
    const g = hold(1);
    const t = send(core, cdb10(0x28, 1, 1), { nexus: a, tag: 10 });
    expect(core.abortTask(a, 0, 11)).toBe('notFound');
    expect(core.abortTask(b, 0, 10)).toBe('notFound');
    expect(core.abortTask(a, 1, 10)).toBe('notFound');
    expect(core.abortTask(a, 9, 10)).toBe('notFound');
    g.open();
    expect((await t.response).status).toBe(ScsiStatus.GOOD);
  });

  it("the transport's signal aborts a prepared task before execute(); it stops blocking an ORDERED successor", async () => {
    const { core, a, started } = await world();
    const ac = new Cancellation();
    const pending = makeCommand(cdb10(0x2a, 5, 1), { nexus: a, signal: ac.signal, data: Buffer.alloc(512) });
    expect(core.prepare(pending).kind).toBe('execute'); // collecting Data-Out that never comes
    const ordered = send(core, cdb10(0x28, 6, 1), { nexus: a, attr: 'ordered' });
    await settle();
    expect(started).toEqual([]);
    ac.abort();
    expect((await ordered.response).status).toBe(ScsiStatus.GOOD);
    expect((await core.execute(pending)).status).toBe(ScsiStatus.TASK_ABORTED);
    expect(started).toEqual([6]);
  });

  it('a command whose signal is already aborted is answered TASK ABORTED at prepare()', async () => {
    const { core } = await world();
    const ac = new Cancellation();
    ac.abort();
    const s = send(core, cdb10(0x28, 0, 1), { signal: ac.signal });
    expect(s.prepared.kind).toBe('respond');
    expect((await s.response).status).toBe(ScsiStatus.TASK_ABORTED);
  });
});

describe('ABORT TASK SET / CLEAR TASK SET', () => {
  it('ABORT TASK SET aborts only the tasks of the asking nexus', async () => {
    const { core, a, b, hold } = await world();
    const g = hold(1);
    const mine = send(core, cdb10(0x28, 1, 1), { nexus: a });
    const theirs = send(core, cdb10(0x28, 1, 1), { nexus: b });
    await settle();
    expect(core.abortTaskSet(a, 0)).toBe('complete');
    g.open();
    expect((await mine.response).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await theirs.response).status).toBe(ScsiStatus.GOOD);
    expect(core.abortTaskSet(a, 9)).toBe('noLun');
  });

  it('CLEAR TASK SET aborts the tasks of every nexus on that LU only', async () => {
    const { core, a, b, hold } = await world();
    const g = hold(1);
    const mine = send(core, cdb10(0x28, 1, 1), { nexus: a });
    const theirs = send(core, cdb10(0x28, 1, 1), { nexus: b });
    const otherLu = send(core, cdb10(0x28, 1, 1), { nexus: b, lun: 1 });
    await settle();
    expect(await core.clearTaskSet(a, 0)).toBe('complete');
    g.open();
    expect((await mine.response).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await theirs.response).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await otherLu.response).status).toBe(ScsiStatus.GOOD);
    expect(await core.clearTaskSet(a, 9)).toBe('noLun');
  });
});

describe('LOGICAL UNIT RESET', () => {
  it('aborts every task, waits for in-flight I/O, and gives every nexus 29h/03h on that LU only', async () => {
    const { core, a, b, hold } = await world();
    const g = hold(1);
    const t = send(core, cdb10(0x28, 1, 1), { nexus: b });
    await settle();
    let resetDone = false;
    const reset = core.lunReset(a, 0).then((r) => {
      resetDone = true;
      return r;
    });
    await settle();
    expect(resetDone).toBe(false);
    g.open();
    expect(await reset).toBe('complete');
    expect((await t.response).status).toBe(ScsiStatus.TASK_ABORTED);
    for (const n of [a, b]) {
      expect(sense(await run(core, TUR, { nexus: n }))).toEqual({ key: 6, asc: 0x29, ascq: 0x03 });
      expect((await run(core, TUR, { nexus: n, lun: 1 })).status).toBe(ScsiStatus.GOOD);
    }
  });

  it('restores mode parameters to their defaults', async () => {
    const { core, a } = await world();
    const lu = core.getLogicalUnit(0)!;
    lu.descriptorSense = true;
    lu.writeCacheEnabled = false;
    await core.lunReset(a, 0);
    expect(lu.descriptorSense).toBe(false);
    expect(lu.writeCacheEnabled).toBe(true);
  });

  it('answers "no LU" for a LUN without one', async () => {
    const { core, a } = await world();
    expect(await core.lunReset(a, 5)).toBe('noLun');
  });
});

describe('TARGET RESET', () => {
  it('warm: every LU, every nexus gets BUS DEVICE RESET FUNCTION OCCURRED', async () => {
    const { core, a, b } = await world();
    expect(await core.targetReset(a, 'warm')).toBe('complete');
    for (const n of [a, b]) {
      for (const lun of [0, 1]) expect(sense(await run(core, TUR, { nexus: n, lun }))).toEqual({ key: 6, asc: 0x29, ascq: 0x03 });
    }
  });

  it('cold: a power on, POWER ON OCCURRED; in-flight tasks are aborted', async () => {
    const { core, a, b, hold } = await world();
    const g = hold(2);
    const t = send(core, cdb10(0x28, 2, 1), { nexus: a });
    await settle();
    const reset = core.targetReset(b, 'cold');
    g.open();
    await reset;
    expect((await t.response).status).toBe(ScsiStatus.TASK_ABORTED);
    expect(sense(await run(core, TUR, { nexus: b, lun: 1 }))).toEqual({ key: 6, asc: 0x29, ascq: 0x01 });
  });
});

describe('removeNexus', () => {
  it('aborts the tasks of the nexus that went away, and forgets its unit attentions', async () => {
    const { core, a, b, hold } = await world();
    const g = hold(1);
    const gone = send(core, cdb10(0x28, 1, 1), { nexus: a });
    const stays = send(core, cdb10(0x28, 1, 1), { nexus: b });
    await settle();
    await core.lunReset(b, 1); // queue a UA for `a` on LU 1
    core.removeNexus(a);
    g.open();
    expect((await gone.response).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await stays.response).status).toBe(ScsiStatus.GOOD);
    // Coming back is a new nexus: power-on UA, not the forgotten reset one.
    expect(sense(await run(core, TUR, { nexus: a, lun: 1 }))).toEqual({ key: 6, asc: 0x29, ascq: 0x00 });
  });
});
