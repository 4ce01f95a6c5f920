import { describe, expect, it } from 'vitest';
import { BlockError } from '../../../src/block/device.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import type { LogicalUnitConfig } from '../../../src/scsi/logical-unit.js';
import { buildSense, parseSense, SenseKey } from '../../../src/scsi/sense.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, dataOf, gate, makeCommand, makeLu, makeNexus, run, send, sense, settle, TARGET } from './fixture.js';

const TUR = [0x00, 0, 0, 0, 0, 0];
const INQUIRY = [0x12, 0, 0, 0, 0xff, 0];
const REPORT_LUNS = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0];
const READ_CAPACITY_10 = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const REQUEST_SENSE = [0x03, 0, 0, 0, 0xff, 0];
const START_STOP = [0x1b, 0, 0, 0, 0x01, 0];
const MODE_SENSE_CACHING = [0x1a, 0, 0x08, 0, 0xff, 0];
const MODE_SENSE_ALL = [0x1a, 0, 0x3f, 0, 0xff, 0];
const OVERWRITE = 0x01;
const BLOCK_ERASE = 0x02;
const EXIT_FAILURE_MODE = 0x1f;
const IMMED = 0x80;
const AUSE = 0x20;
const BLOCKS = 64;

const sanitizeCdb = (serviceAction: number, byte1Flags = 0, paramLength = 0): number[] => [
  0x48, byte1Flags | serviceAction, 0, 0, 0, 0, 0, paramLength >> 8, paramLength & 0xff, 0,
];

/** SANITIZE OVERWRITE with a one-block pattern's parameter list length. */
const ow = (byte1Flags = 0): number[] => sanitizeCdb(OVERWRITE, byte1Flags, 516);

/** OVERWRITE parameter list: one block of `fill`, `passes` passes. */
function overwriteList(fill: number, passes = 1, patternLength = 512): Buffer {
  const b = Buffer.alloc(4 + patternLength, fill);
  b[0] = passes;
  b[1] = 0;
  b.writeUInt16BE(patternLength, 2);
  return b;
}

/** One LU over a MemDevice whose writes can be held, two nexuses with their unit attentions consumed. */
async function world(over: Partial<LogicalUnitConfig> = {}) {
  const dev = new MemDevice(BLOCKS);
  const lu = makeLu(dev, over);
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
  const a = makeNexus(1);
  const b = makeNexus(2);
  for (const n of [a, b]) {
    core.addNexus(n);
    await run(core, TUR, { nexus: n });
  }
  let holdWrites: ReturnType<typeof gate> | undefined;
  let writes = 0;
  let failWith: BlockError | undefined;
  dev.beforeIo = async (op) => {
    if (op !== 'write' && op !== 'discard') return;
    writes++;
    await holdWrites?.promise;
    if (failWith) throw failWith;
  };
  return {
    core,
    dev,
    lu,
    a,
    b,
    writes: () => writes,
    /** Holds every write until the returned function is called. */
    hold: () => {
      const g = gate();
      holdWrites = g;
      return () => {
        holdWrites = undefined;
        g.open();
      };
    },
    failWrites: (err: BlockError | undefined) => (failWith = err),
  };
}

const notReadySanitizing = { key: SenseKey.NOT_READY, asc: 0x04, ascq: 0x1b };
const sanitizeFailed = { key: SenseKey.MEDIUM_ERROR, asc: 0x31, ascq: 0x03 };

describe('SANITIZE in progress (an LU state)', () => {
  it('IMMED: GOOD at once; every nexus then gets NOT READY / SANITIZE IN PROGRESS with a progress indication', async () => {
    const w = await world();
    const release = w.hold();
    const r = await run(w.core, ow(IMMED), { nexus: w.a, data: overwriteList(0xaa, 4) });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(w.lu.sanitize.inProgress).toBe(true);
    for (const n of [w.a, w.b]) {
      for (const cdb of [TUR, START_STOP, cdb10(0x28, 0, 1), cdb10(0x2a, 0, 1), sanitizeCdb(BLOCK_ERASE), MODE_SENSE_ALL]) {
        const refused = await run(w.core, cdb, { nexus: n, data: Buffer.alloc(512) });
        expect(refused.status).toBe(ScsiStatus.CHECK_CONDITION);
        expect(sense(refused)).toMatchObject({ ...notReadySanitizing, progress: 0 });
      }
      // SBC-4 4.11.2: commands allowed during sanitize.
      for (const cdb of [INQUIRY, REPORT_LUNS, READ_CAPACITY_10, MODE_SENSE_CACHING]) {
        expect((await run(w.core, cdb, { nexus: n })).status, `opcode ${cdb[0]}`).toBe(ScsiStatus.GOOD);
      }
      // REQUEST SENSE: pollable sense with the progress.
      const polled = await run(w.core, REQUEST_SENSE, { nexus: n });
      expect(polled.status).toBe(ScsiStatus.GOOD);
      expect(parseSense(dataOf(polled))).toMatchObject({ ...notReadySanitizing, progress: 0 });
    }
    // Pass 1 of 4 done (the 32 KiB LU is one write a pass): progress 1/4 of 65536.
    release();
    const next = w.hold();
    await settle();
    expect(w.lu.sanitize.progress).toBeGreaterThanOrEqual(0x4000);
    expect(sense(await run(w.core, TUR, { nexus: w.b }))).toMatchObject({ ...notReadySanitizing, progress: w.lu.sanitize.progress });
    next();
    expect(await w.lu.sanitize.finished).toBe('completed');
    expect((await run(w.core, TUR, { nexus: w.b })).status).toBe(ScsiStatus.GOOD);
    expect(w.dev.buffer.every((x) => x === 0xaa)).toBe(true);
    expect(parseSense(dataOf(await run(w.core, REQUEST_SENSE, { nexus: w.a })))).toMatchObject({ key: SenseKey.NO_SENSE, asc: 0 });
  });

  it('without IMMED the command completes when the overwrite does', async () => {
    const w = await world();
    w.dev.buffer.fill(0x61);
    const release = w.hold();
    const s = send(w.core, ow(), { nexus: w.a, data: overwriteList(0x5a, 2) });
    let answered = false;
    void s.response.then(() => (answered = true));
    await settle();
    expect(answered).toBe(false);
    release();
    expect((await s.response).status).toBe(ScsiStatus.GOOD);
    expect(w.dev.buffer.every((x) => x === 0x5a)).toBe(true);
    expect(w.dev.log.filter((r) => r.op === 'flush')).toHaveLength(2);
  });

  it('survives ABORT TASK, ABORT TASK SET, LUN reset, target warm and cold reset and nexus loss', async () => {
    const w = await world();
    const release = w.hold();
    const s = send(w.core, ow(), { nexus: w.a, data: overwriteList(0x33), tag: 4242 });
    await settle();
    expect(w.core.abortTask(w.a, 0, 4242)).toBe('complete');
    // The command ends at once; the operation goes on.
    expect((await s.response).status).toBe(ScsiStatus.TASK_ABORTED);
    expect(w.lu.sanitize.inProgress).toBe(true);
    w.core.abortTaskSet(w.a, 0);
    await w.core.lunReset(w.a, 0);
    await w.core.targetReset(w.a, 'warm');
    await w.core.targetReset(w.a, 'cold');
    w.core.removeNexus(w.a);
    expect(w.lu.sanitize.inProgress).toBe(true);
    // A new nexus: the power-on unit attention first, then SANITIZE IN PROGRESS.
    const c = makeNexus(3);
    expect(sense(await run(w.core, TUR, { nexus: c }))).toMatchObject({ key: SenseKey.UNIT_ATTENTION });
    expect(sense(await run(w.core, TUR, { nexus: c }))).toMatchObject(notReadySanitizing);
    release();
    expect(await w.lu.sanitize.finished).toBe('completed');
    expect(w.dev.buffer.every((x) => x === 0x33)).toBe(true);
    expect((await run(w.core, TUR, { nexus: c })).status).toBe(ScsiStatus.GOOD);
  });

  it('waits for a write already executing, and refuses one whose Data-Out was still arriving', async () => {
    const w = await world();
    const release = w.hold();
    const inFlight = send(w.core, cdb10(0x2a, 0, 1), { nexus: w.b, data: Buffer.alloc(512, 0x77) });
    await settle();
    expect(w.writes()).toBe(1);
    // Prepared (collecting Data-Out) before the sanitize starts, executed after.
    const late = makeCommand(cdb10(0x2a, 1, 1), { nexus: w.b, data: Buffer.alloc(512, 0x78) });
    expect(w.core.prepare(late).kind).toBe('execute');
    expect((await run(w.core, ow(IMMED), { nexus: w.a, data: overwriteList(0x11) })).status).toBe(ScsiStatus.GOOD);
    await settle();
    expect(w.writes()).toBe(1); // the overwrite waits for the executing WRITE
    const lateResponse = await w.core.execute(late, undefined);
    expect(lateResponse.status).toBe(ScsiStatus.CHECK_CONDITION);
    release();
    expect((await inFlight.response).status).toBe(ScsiStatus.GOOD);
    expect(await w.lu.sanitize.finished).toBe('completed');
    expect(w.dev.buffer.every((x) => x === 0x11)).toBe(true);
  });

  it('refuses bad OVERWRITE CDBs and parameter lists without starting anything', async () => {
    const w = await world();
    for (const length of [0, 1, 2, 3, 4, 512 + 5]) {
      const r = await run(w.core, sanitizeCdb(OVERWRITE, 0, length), { nexus: w.a, data: Buffer.alloc(length) });
      expect(sense(r), `parameter list length ${length}`).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x24, fieldPointer: { byte: 7 } });
    }
    expect(sense(await run(w.core, sanitizeCdb(OVERWRITE, 0x40, 516), { nexus: w.a, data: overwriteList(1) }))).toMatchObject({
      asc: 0x24,
      fieldPointer: { byte: 1, bit: 6 },
    });
    for (let byte = 2; byte <= 6; byte++) {
      const cdb = sanitizeCdb(OVERWRITE, 0, 516);
      cdb[byte] = 1;
      expect(sense(await run(w.core, cdb, { nexus: w.a, data: overwriteList(1) }))).toMatchObject({ asc: 0x24, fieldPointer: { byte } });
    }
    const zeroCount = overwriteList(1, 0);
    expect(sense(await run(w.core, sanitizeCdb(OVERWRITE, 0, 516), { nexus: w.a, data: zeroCount }))).toMatchObject({
      key: SenseKey.ILLEGAL_REQUEST,
      asc: 0x26,
    });
    const zeroLength = overwriteList(1);
    zeroLength.writeUInt16BE(0, 2);
    expect(sense(await run(w.core, sanitizeCdb(OVERWRITE, 0, 516), { nexus: w.a, data: zeroLength }))).toMatchObject({ asc: 0x26 });
    expect(w.writes()).toBe(0);
    expect(w.lu.sanitize.idle).toBe(true);
    // Software write protect (MODE SELECT control page SWP): DATA PROTECT.
    w.lu.softwareWriteProtect = true;
    expect(sense(await run(w.core, sanitizeCdb(OVERWRITE, 0, 516), { nexus: w.a, data: overwriteList(1) }))).toMatchObject({
      key: SenseKey.DATA_PROTECT,
      asc: 0x27,
    });
    expect(w.writes()).toBe(0);
  });
});

describe('SANITIZE failure and EXIT FAILURE MODE', () => {
  it('a failed overwrite (AUSE = 0): MEDIUM ERROR / SANITIZE COMMAND FAILED until a sanitize completes', async () => {
    const w = await world();
    w.failWrites(new BlockError('IO_ERROR', 'EIO'));
    const r = await run(w.core, ow(), { nexus: w.a, data: overwriteList(0x44) });
    expect(sense(r)).toMatchObject(sanitizeFailed);
    expect(w.lu.sanitize.failedRestricted).toBe(true);
    for (const n of [w.a, w.b]) {
      expect(sense(await run(w.core, TUR, { nexus: n }))).toMatchObject(sanitizeFailed);
      expect(sense(await run(w.core, cdb10(0x28, 0, 1), { nexus: n }))).toMatchObject(sanitizeFailed);
      expect((await run(w.core, INQUIRY, { nexus: n })).status).toBe(ScsiStatus.GOOD);
      expect(parseSense(dataOf(await run(w.core, REQUEST_SENSE, { nexus: n })))).toMatchObject(sanitizeFailed);
    }
    // Restricted completion mode: neither EXIT FAILURE MODE nor a sanitize with AUSE = 1 is accepted.
    expect(sense(await run(w.core, sanitizeCdb(EXIT_FAILURE_MODE), { nexus: w.a }))).toMatchObject({
      key: SenseKey.ILLEGAL_REQUEST,
      asc: 0x24,
    });
    expect(sense(await run(w.core, sanitizeCdb(OVERWRITE, AUSE, 516), { nexus: w.a, data: overwriteList(1) }))).toMatchObject({
      asc: 0x24,
      fieldPointer: { byte: 1, bit: 5 },
    });
    expect(w.lu.sanitize.failed).toBe(true);
    // A sanitize without AUSE that completes clears it.
    w.failWrites(undefined);
    expect((await run(w.core, ow(), { nexus: w.b, data: overwriteList(0x45) })).status).toBe(ScsiStatus.GOOD);
    expect((await run(w.core, TUR, { nexus: w.a })).status).toBe(ScsiStatus.GOOD);
    expect(w.dev.buffer.every((x) => x === 0x45)).toBe(true);
  });

  it('a failed overwrite with AUSE = 1 (IMMED): EXIT FAILURE MODE leaves the failed condition', async () => {
    const w = await world();
    w.failWrites(new BlockError('IO_ERROR', 'EIO'));
    expect((await run(w.core, ow(IMMED | AUSE), { nexus: w.a, data: overwriteList(1) })).status).toBe(ScsiStatus.GOOD);
    expect(await w.lu.sanitize.finished).toBe('failed');
    expect(w.lu.sanitize.failure).toMatchObject({ code: 'IO_ERROR' });
    expect(sense(await run(w.core, TUR, { nexus: w.b }))).toMatchObject(sanitizeFailed);
    expect(sense(await run(w.core, sanitizeCdb(EXIT_FAILURE_MODE, 0, 8), { nexus: w.b, data: Buffer.alloc(8) }))).toMatchObject({
      asc: 0x24,
      fieldPointer: { byte: 7 },
    });
    expect((await run(w.core, sanitizeCdb(EXIT_FAILURE_MODE), { nexus: w.b })).status).toBe(ScsiStatus.GOOD);
    expect((await run(w.core, TUR, { nexus: w.a })).status).toBe(ScsiStatus.GOOD);
    // Without a failed sanitize EXIT FAILURE MODE is GOOD and changes nothing.
    expect((await run(w.core, sanitizeCdb(EXIT_FAILURE_MODE), { nexus: w.b })).status).toBe(ScsiStatus.GOOD);
    expect(w.lu.sanitize.idle).toBe(true);
  });

  it('ENOSPC on a thin LU fails the overwrite too; a BLOCK ERASE that completes clears it', async () => {
    const w = await world({ thin: true });
    w.failWrites(new BlockError('NO_SPACE', 'ENOSPC'));
    expect(sense(await run(w.core, ow(), { nexus: w.a, data: overwriteList(1) }))).toMatchObject(sanitizeFailed);
    expect(sense(await run(w.core, TUR, { nexus: w.a }))).toMatchObject(sanitizeFailed);
    w.failWrites(undefined);
    expect((await run(w.core, sanitizeCdb(BLOCK_ERASE), { nexus: w.a })).status).toBe(ScsiStatus.GOOD);
    expect((await run(w.core, TUR, { nexus: w.a })).status).toBe(ScsiStatus.GOOD);
  });

  it('EXIT FAILURE MODE during a sanitize is refused with SANITIZE IN PROGRESS', async () => {
    const w = await world();
    const release = w.hold();
    await run(w.core, ow(IMMED), { nexus: w.a, data: overwriteList(1) });
    expect(sense(await run(w.core, sanitizeCdb(EXIT_FAILURE_MODE), { nexus: w.b }))).toMatchObject(notReadySanitizing);
    release();
    expect(await w.lu.sanitize.finished).toBe('completed');
  });
});

describe('progress indication in sense data', () => {
  it('is the sense-key-specific field of fixed and descriptor sense, and parses back', () => {
    const data = { key: SenseKey.NOT_READY, asc: 0x04, ascq: 0x1b, progress: 0x1234 };
    const fixed = buildSense(data, 'fixed');
    expect([fixed[15], fixed[16], fixed[17]]).toEqual([0x80, 0x12, 0x34]);
    expect(parseSense(fixed)).toEqual(data);
    const descriptor = buildSense(data, 'descriptor');
    expect([descriptor[8], descriptor[9], descriptor[12], descriptor[13], descriptor[14]]).toEqual([0x02, 0x06, 0x80, 0x12, 0x34]);
    expect(parseSense(descriptor)).toEqual(data);
  });
});
