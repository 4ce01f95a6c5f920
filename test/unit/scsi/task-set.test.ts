import fc from 'fast-check';
import { Cancellation } from '../../../src/block/cancel.js';
import { describe, expect, it } from 'vitest';
import type { TaskAttribute } from '../../../src/scsi/command.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { TaskSet, type TaskSetEntry } from '../../../src/scsi/task-set.js';
import { cdb10, gate, makeCommand, send, settle, setup } from './fixture.js';

function entries(...attrs: TaskAttribute[]): TaskSetEntry[] {
  return attrs.map((attr, i) => ({ seq: i + 1, attr }));
}

describe('TaskSet rules (SAM-5)', () => {
  it('lists live entries oldest first and enables ORDERED by the oldest live one, whatever the order tasks end in', () => {
    // Long runs with one long task held: the arrival-order list is trimmed and rebuilt under it.
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom<TaskAttribute>('simple', 'ordered'), fc.nat(40)), { maxLength: 600 }), (steps) => {
        const set = new TaskSet<TaskSetEntry>();
        const live: TaskSetEntry[] = [];
        let seq = 0;
        for (const [attr, pick] of steps) {
          const e = { seq: ++seq, attr };
          set.add(e);
          live.push(e);
          // End one live task (not always the oldest), keeping a few around.
          if (live.length > 3) set.remove(live.splice(pick % live.length, 1)[0]!);
          expect([...set.entries()]).toEqual(live);
          expect(set.size).toBe(live.length);
          for (const x of live) if (x.attr === 'ordered') expect(set.isEnabled(x)).toBe(x === live[0]);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('SIMPLE tasks are enabled together', () => {
    const set = new TaskSet<TaskSetEntry>();
    const [a, b] = entries('simple', 'simple');
    set.add(a!);
    set.add(b!);
    expect([set.isEnabled(a!), set.isEnabled(b!)]).toEqual([true, true]);
  });

  it('ORDERED waits for every older task and holds back every newer SIMPLE one', () => {
    const set = new TaskSet<TaskSetEntry>();
    const [s1, o, s2] = entries('simple', 'ordered', 'simple');
    for (const e of [s1!, o!, s2!]) set.add(e);
    expect([set.isEnabled(s1!), set.isEnabled(o!), set.isEnabled(s2!)]).toEqual([true, false, false]);
    set.remove(s1!);
    expect([set.isEnabled(o!), set.isEnabled(s2!)]).toEqual([true, false]);
    set.remove(o!);
    expect(set.isEnabled(s2!)).toBe(true);
  });

  it('HEAD OF QUEUE is enabled at once; newer SIMPLE tasks wait for it', () => {
    const set = new TaskSet<TaskSetEntry>();
    const [s1, o, h, s2] = entries('simple', 'ordered', 'headOfQueue', 'simple');
    for (const e of [s1!, o!, h!, s2!]) set.add(e);
    expect(set.isEnabled(h!)).toBe(true);
    set.remove(s1!);
    set.remove(o!);
    expect(set.isEnabled(s2!)).toBe(false);
    set.remove(h!);
    expect(set.isEnabled(s2!)).toBe(true);
  });

  it('whenEnabled resolves on removal of the blockers, and false on abort', async () => {
    const set = new TaskSet<TaskSetEntry>();
    const [s1, o, s2] = entries('simple', 'ordered', 'simple');
    for (const e of [s1!, o!, s2!]) set.add(e);
    const ac = new Cancellation();
    const ordered = set.whenEnabled(o!, new Cancellation().signal);
    const aborted = set.whenEnabled(s2!, ac.signal);
    ac.abort();
    expect(await aborted).toBe(false);
    set.remove(s1!);
    expect(await ordered).toBe(true);
  });

  it('an entry removed while waiting resolves false', async () => {
    const set = new TaskSet<TaskSetEntry>();
    const [o1, o2] = entries('ordered', 'ordered');
    set.add(o1!);
    set.add(o2!);
    const waiting = set.whenEnabled(o2!, new Cancellation().signal);
    set.remove(o2!);
    expect(await waiting).toBe(false);
    expect(set.size).toBe(1);
  });
});

describe('task attributes through the core', () => {
  /** A device whose I/O at a given block is held until released. */
  async function heldSetup() {
    const s = await setup(64);
    const held = new Map<number, ReturnType<typeof gate>>();
    const started: string[] = [];
    s.dev.beforeIo = async (op, offset) => {
      const lba = offset / 512;
      started.push(`${op}@${lba}`);
      await held.get(lba)?.promise;
    };
    const hold = (lba: number) => {
      const g = gate();
      held.set(lba, g);
      return g;
    };
    return { ...s, started, hold };
  }

  it('SIMPLE tasks run concurrently', async () => {
    const { core, started, hold } = await heldSetup();
    const g1 = hold(1);
    const g2 = hold(2);
    const a = send(core, cdb10(0x28, 1, 1));
    const b = send(core, cdb10(0x28, 2, 1));
    await settle();
    expect(started).toEqual(['read@1', 'read@2']);
    g2.open();
    expect((await b.response).status).toBe(ScsiStatus.GOOD);
    g1.open();
    expect((await a.response).status).toBe(ScsiStatus.GOOD);
  });

  it('ORDERED waits for older SIMPLE tasks, and newer SIMPLE tasks wait for it', async () => {
    const { core, started, hold } = await heldSetup();
    const g1 = hold(1);
    const g2 = hold(2);
    const older = send(core, cdb10(0x28, 1, 1));
    const ordered = send(core, cdb10(0x2a, 2, 1), { attr: 'ordered', data: Buffer.alloc(512) });
    const newer = send(core, cdb10(0x28, 3, 1));
    await settle();
    expect(started).toEqual(['read@1']);
    g1.open();
    await older.response;
    await settle();
    expect(started).toEqual(['read@1', 'write@2']);
    g2.open();
    await ordered.response;
    await newer.response;
    expect(started).toEqual(['read@1', 'write@2', 'read@3']);
  });

  it('HEAD OF QUEUE jumps over a waiting ORDERED task', async () => {
    const { core, started, hold } = await heldSetup();
    const g1 = hold(1);
    const older = send(core, cdb10(0x28, 1, 1));
    const ordered = send(core, cdb10(0x28, 2, 1), { attr: 'ordered' });
    const hoq = send(core, cdb10(0x28, 3, 1), { attr: 'headOfQueue' });
    expect((await hoq.response).status).toBe(ScsiStatus.GOOD);
    expect(started).toEqual(['read@1', 'read@3']);
    g1.open();
    await Promise.all([older.response, ordered.response]);
    expect(started).toEqual(['read@1', 'read@3', 'read@2']);
  });

  it('order follows prepare() (command order), not the order execute() is called in', async () => {
    const { core, started } = await heldSetup();
    const ordered = makeCommand(cdb10(0x28, 1, 1), { attr: 'ordered' });
    const simple = makeCommand(cdb10(0x28, 2, 1));
    expect(core.prepare(ordered).kind).toBe('execute');
    expect(core.prepare(simple).kind).toBe('execute');
    const simpleDone = core.execute(simple);
    await settle();
    expect(started).toEqual([]); // the older ORDERED task has not even been executed yet
    await core.execute(ordered);
    await simpleDone;
    expect(started).toEqual(['read@1', 'read@2']);
  });
});
