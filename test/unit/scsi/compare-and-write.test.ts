import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { RangeLock } from '../../../src/scsi/range-lock.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { cdb10, cdb16, gate, makeNexus, run, send, sense, settle, setup } from './fixture.js';

function caw(lba: number, blocks: number, byte1 = 0): Buffer {
  const c = cdb16(0x89, lba, 0, byte1);
  c[13] = blocks;
  return c;
}

const fill = (v: number, n = 512): Buffer => Buffer.alloc(n, v);

describe('COMPARE AND WRITE', () => {
  it('writes the second half when the medium equals the first half', async () => {
    const { core, dev } = await setup(64);
    dev.buffer.fill(0x41, 4 * 512, 6 * 512);
    const s = send(core, caw(4, 2), { data: Buffer.concat([fill(0x41, 1024), fill(0x42, 1024)]) });
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 2048 });
    expect((await s.response).status).toBe(ScsiStatus.GOOD);
    expect(dev.buffer.subarray(4 * 512, 6 * 512).every((b) => b === 0x42)).toBe(true);
  });

  it('a miscompare writes nothing and reports the offset of the first differing byte', async () => {
    const { core, dev } = await setup(64);
    dev.buffer.fill(0x41, 0, 2 * 512);
    dev.buffer[700] = 0x58;
    const r = await run(core, caw(0, 2), { data: Buffer.concat([fill(0x41, 1024), fill(0x42, 1024)]) });
    expect(sense(r)).toEqual({ key: SenseKey.MISCOMPARE, asc: 0x1d, ascq: 0, information: 700 });
    expect(dev.log.some((x) => x.op === 'write')).toBe(false);
  });

  it('refuses more than 255 blocks sent as NUMBER OF LOGICAL BLOCKS 0 with data (EDTL mismatch), WRPROTECT, read-only, beyond the end', async () => {
    const { core } = await setup(64);
    expect(sense(await run(core, caw(0, 0), { data: fill(0, 1024) }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 13 } });
    expect((await run(core, caw(0, 0))).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(core, caw(0, 1, 0x20), { data: fill(0, 1024) }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 7 } });
    expect(sense(await run(core, caw(63, 2), { data: fill(0, 2048) }))).toMatchObject({ asc: 0x21 });
    const ro = await setup(64, { readOnly: true });
    expect(sense(await run(ro.core, caw(0, 1), { data: fill(0, 1024) }))).toMatchObject({ key: SenseKey.DATA_PROTECT });
  });

  it('is atomic: a WRITE to the same blocks from another nexus waits until the compare and write is done', async () => {
    const { core, dev } = await setup(64);
    const held = gate();
    let hold = true;
    dev.beforeIo = async (op) => {
      if (op === 'read' && hold) {
        hold = false;
        await held.promise;
      }
    };
    const cawDone = send(core, caw(0, 1), { data: Buffer.concat([fill(0), fill(0x42)]) }).response;
    await settle();
    // The WRITE arrives while COMPARE AND WRITE has read but not yet written.
    const other = makeNexus(2);
    core.addNexus(other);
    await run(core, [0, 0, 0, 0, 0, 0], { nexus: other });
    const writeDone = send(core, cdb10(0x2a, 0, 1), { data: fill(0x57), nexus: other }).response;
    await settle();
    expect(dev.log.filter((x) => x.op === 'write')).toEqual([]);
    held.open();
    expect((await cawDone).status).toBe(ScsiStatus.GOOD);
    expect((await writeDone).status).toBe(ScsiStatus.GOOD);
    // The compare saw zeros (not 0x57) and the later WRITE wins.
    expect(dev.log.filter((x) => x.op === 'write').length).toBe(2);
    expect(dev.buffer[0]).toBe(0x57);
  });
});

describe('ORWRITE(16)', () => {
  it('ORs the data-out into the blocks on the medium', async () => {
    const { core, dev } = await setup(64);
    dev.buffer.fill(0x0f, 512, 1024);
    const r = await run(core, cdb16(0x8b, 1, 1), { data: fill(0xf0) });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(dev.buffer.subarray(512, 1024).every((b) => b === 0xff)).toBe(true);
    expect(dev.buffer[1024]).toBe(0);
  });

  it('refuses ORPROTECT, a read-only LU and ranges beyond the end', async () => {
    const { core } = await setup(64);
    expect(sense(await run(core, cdb16(0x8b, 0, 1, 0x20), { data: fill(0) }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 1, bit: 7 } });
    expect(sense(await run(core, cdb16(0x8b, 64, 1), { data: fill(0) }))).toMatchObject({ asc: 0x21 });
    const ro = await setup(64, { readOnly: true });
    expect(sense(await run(ro.core, cdb16(0x8b, 0, 1), { data: fill(0) }))).toMatchObject({ key: SenseKey.DATA_PROTECT });
  });
});

describe('RangeLock', () => {
  it('shared holders overlap; an exclusive one waits for earlier overlapping holders, and later ones wait for it', async () => {
    const lock = new RangeLock();
    const order: string[] = [];
    const now = (got: ReturnType<RangeLock['lock']>): (() => void) => {
      // Nothing earlier conflicts: the unlock comes back synchronously, not as a promise.
      expect(typeof got).toBe('function');
      return got as () => void;
    };
    const a = now(lock.lock(0, 10, false));
    const b = now(lock.lock(5, 10, false)); // shared + shared: no wait
    const x = Promise.resolve(lock.lock(8, 1, true)).then((u) => (order.push('x'), u));
    const c = Promise.resolve(lock.lock(8, 1, false)).then((u) => (order.push('c'), u));
    const d = now(lock.lock(20, 5, true)); // disjoint: no wait
    await settle();
    expect(order).toEqual([]);
    a();
    await settle();
    expect(order).toEqual([]);
    b();
    await settle();
    expect(order).toEqual(['x']);
    (await x)();
    await settle();
    expect(order).toEqual(['x', 'c']);
    (await c)();
    d();
    expect(lock.size).toBe(0);
  });
});
