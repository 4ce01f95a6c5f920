import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtomicJournal } from '../../../src/block/atomic-journal.js';
import { Cancellation } from '../../../src/block/cancel.js';
import type { LogicalUnitConfig } from '../../../src/scsi/logical-unit.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { accessOf } from '../../../src/scsi/pr/access.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { waitUntil } from '../../helpers/wait.js';
import { cdb16, dataOf, gate, run, send, sense, settle, setup } from './fixture.js';

/** WRITE ATOMIC(16): byte 1 WRPROTECT | DPO | FUA, LBA 2-9, ATOMIC BOUNDARY 10-11, TRANSFER LENGTH 12-13. */
function atomic16(lba: bigint | number, blocks: number, byte1 = 0, boundary = 0): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x9c;
  c[1] = byte1;
  c.writeBigUInt64BE(BigInt.asUintN(64, BigInt(lba)), 2);
  c.writeUInt16BE(boundary, 10);
  c.writeUInt16BE(blocks, 12);
  return c;
}

const read16 = (lba: number, blocks: number): Buffer => cdb16(0x88, lba, blocks);
/** REPORT SUPPORTED OPERATION CODES, one command (REPORTING OPTIONS 001b). */
const rsocOne = (opcode: number): number[] => [0xa3, 0x0c, 0x01, opcode, 0, 0, 0, 0, 1, 0, 0, 0];
const blockLimitsVpd = [0x12, 0x01, 0xb0, 0, 0xff, 0];
const fill = (v: number, blocks: number, bs = 512): Buffer => Buffer.alloc(blocks * bs, v);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scatter-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function atomicSetup(blocks = 4096, over: Partial<LogicalUnitConfig> = {}, blockSize = 512): ReturnType<typeof setup> {
  const atomicJournal = await AtomicJournal.open(join(dir, 'atomic', 'lu.journal'));
  return setup(blocks, { atomicJournal, ...over }, blockSize);
}

describe('WRITE ATOMIC(16) where it is not offered', () => {
  it('is INVALID COMMAND OPERATION CODE, not listed, and VPD B0h atomic limits are 0', async () => {
    const { core, dev } = await setup(64);
    expect(sense(await run(core, atomic16(0, 1), { data: fill(1, 1) }))).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x20 });
    expect(dev.log).toEqual([]);
    expect(dataOf(await run(core, rsocOne(0x9c)))[1]! & 0x07).toBe(0x01);
    const vpd = dataOf(await run(core, blockLimitsVpd));
    expect(vpd.length).toBe(64);
    expect([vpd.readUInt32BE(44), vpd.readUInt32BE(48), vpd.readUInt32BE(52)]).toEqual([0, 0, 0]);
  });
});

describe('WRITE ATOMIC(16)', () => {
  it('VPD B0h: MAXIMUM ATOMIC TRANSFER LENGTH (one journal slot, >= 256, <= MAXIMUM TRANSFER LENGTH), alignment and granularity 1', async () => {
    const small = await atomicSetup();
    const vpd = dataOf(await run(small.core, blockLimitsVpd));
    expect(vpd.readUInt32BE(44)).toBe(2048); // 1 MiB of 512-byte blocks
    expect(vpd.readUInt32BE(44)).toBeLessThanOrEqual(vpd.readUInt32BE(8));
    expect([vpd.readUInt32BE(48), vpd.readUInt32BE(52)]).toEqual([1, 1]);
    const big = await atomicSetup(1024, {}, 4096);
    expect(dataOf(await run(big.core, blockLimitsVpd)).readUInt32BE(44)).toBe(256);
    const clamped = await atomicSetup(4096, { maxTransferLength: 300 });
    expect(dataOf(await run(clamped.core, blockLimitsVpd)).readUInt32BE(44)).toBe(300);
  });

  it('REPORT SUPPORTED OPERATION CODES lists it with DPO and FUA in the usage data', async () => {
    const { core } = await atomicSetup();
    const d = dataOf(await run(core, rsocOne(0x9c)));
    expect(d[1]! & 0x07).toBe(0x03);
    expect(d.readUInt16BE(2)).toBe(16);
    expect(d[4]).toBe(0x9c);
    expect(d[5]! & 0x18).toBe(0x18);
    expect(d.readUInt16BE(4 + 12)).toBe(0xffff); // TRANSFER LENGTH
  });

  it('writes the blocks (durably: FUA), with or without DPO/FUA, and they read back', async () => {
    const { core, dev } = await atomicSetup();
    for (const flags of [0, 0x10, 0x08, 0x18]) {
      const data = Buffer.concat([fill(flags + 1, 3), fill(flags + 2, 2)]);
      expect((await run(core, atomic16(100, 5, flags), { data })).status).toBe(ScsiStatus.GOOD);
      expect(dataOf(await run(core, read16(100, 5))).equals(data)).toBe(true);
    }
    expect(dev.log.filter((r) => r.op === 'write').every((r) => r.fua === true)).toBe(true);
  });

  it('writes the largest atomic length at the very end of the LU', async () => {
    const { core, dev } = await atomicSetup(4096);
    const data = fill(0x7e, 2048);
    expect((await run(core, atomic16(4096 - 2048, 2048), { data })).status).toBe(ScsiStatus.GOOD);
    expect(dev.buffer.subarray(2048 * 512).equals(data)).toBe(true);
  });

  it('zero blocks is GOOD and does nothing', async () => {
    const { core, dev } = await atomicSetup(64);
    expect((await run(core, atomic16(0, 0))).status).toBe(ScsiStatus.GOOD);
    expect((await run(core, atomic16(64, 0))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log).toEqual([]);
  });

  it('refuses: WRPROTECT, LBA out of range (also past the atomic maximum), too long, ATOMIC BOUNDARY, write protect', async () => {
    const { core, dev, lu } = await atomicSetup(4096);
    for (let wrprotect = 1; wrprotect < 8; wrprotect++) {
      expect(sense(await run(core, atomic16(0, 1, wrprotect << 5), { data: fill(1, 1) }))).toMatchObject({
        asc: 0x24,
        fieldPointer: { byte: 1, bit: 7 },
      });
    }
    expect(sense(await run(core, atomic16(4095, 2), { data: fill(1, 2) }))).toMatchObject({ asc: 0x21 });
    expect(sense(await run(core, atomic16(4097, 0)))).toMatchObject({ asc: 0x21 });
    expect(sense(await run(core, atomic16(2n ** 63n, 1), { data: fill(1, 1) }))).toMatchObject({ asc: 0x21 });
    expect(sense(await run(core, atomic16(-1, 1), { data: fill(1, 1) }))).toMatchObject({ asc: 0x21 });
    // Running past the end is LBA OUT OF RANGE even when also longer than the atomic maximum.
    expect(sense(await run(core, atomic16(4096 - 1500, 3000), { data: fill(1, 3000) }))).toMatchObject({ asc: 0x21 });
    expect(sense(await run(core, atomic16(0, 2049), { data: fill(1, 2049) }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 12 } });
    expect(sense(await run(core, atomic16(0, 1, 0, 1), { data: fill(1, 1) }))).toMatchObject({ asc: 0x24, fieldPointer: { byte: 10 } });
    expect(sense(await run(core, [...atomic16(0, 1).subarray(0, 15), 0x04], { data: fill(1, 1) }))).toMatchObject({
      asc: 0x24,
      fieldPointer: { byte: 15, bit: 2 },
    });
    lu.softwareWriteProtect = true;
    expect(sense(await run(core, atomic16(0, 1), { data: fill(1, 1) }))).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27 });
    expect(dev.log.filter((r) => r.op === 'write')).toEqual([]);
  });

  it('a READ-ONLY LU answers WRITE PROTECTED', async () => {
    const { core } = await atomicSetup(64, { readOnly: true });
    expect(sense(await run(core, atomic16(0, 1), { data: fill(1, 1) }))).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27 });
  });

  it('an initiator expecting less data than the CDB asks is refused, never cut to a partial atomic write', async () => {
    const { core, dev } = await atomicSetup(64);
    const r = await run(core, atomic16(0, 4), { data: fill(1, 4), edtlOut: 2 * 512 });
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(dev.log).toEqual([]);
  });

  it('is a write for reservations', () => {
    expect(accessOf(atomic16(0, 1))).toBe('write');
  });

  it('an overlapping READ waits for the whole atomic write and sees only the new data', async () => {
    const { core, dev } = await atomicSetup(64);
    dev.buffer.fill(0x0a, 0, 8 * 512);
    const held = holdWrites(dev);
    const w = send(core, atomic16(0, 8), { data: fill(0x0b, 8) }).response;
    await waitUntil(held.asked, 'the atomic write reaches the device');
    const r = send(core, read16(4, 4)).response;
    const elsewhere = await run(core, read16(16, 4)); // a read of other blocks does not wait
    expect(elsewhere.status).toBe(ScsiStatus.GOOD);
    await settle();
    expect(dev.log.filter((x) => x.op === 'read' && x.offset === 4 * 512)).toEqual([]);
    held.open();
    expect((await w).status).toBe(ScsiStatus.GOOD);
    expect(dataOf(await r).equals(fill(0x0b, 4))).toBe(true);
  });

  it('an abort before the record is journaled writes nothing; after it, the write still lands whole', async () => {
    const { core, dev } = await atomicSetup(64);
    // Hold the range with a COMPARE AND WRITE so the atomic write waits for it.
    const held = gate();
    let hold = true;
    dev.beforeIo = async (op) => {
      if (op === 'read' && hold) {
        hold = false;
        await held.promise;
      }
    };
    const caw = cdb16(0x89, 0, 0);
    caw[13] = 1;
    const cawDone = send(core, caw, { data: Buffer.concat([fill(0, 1), fill(0x33, 1)]) }).response;
    await settle();
    const cancel = new Cancellation();
    const aborted = send(core, atomic16(0, 2), { data: fill(0x44, 2), signal: cancel.signal }).response;
    await settle();
    cancel.abort();
    held.open();
    await cawDone;
    await aborted;
    expect(dev.buffer.subarray(512, 1024).every((b) => b === 0)).toBe(true);

    // Now abort while the LU write (after the journal record) is in flight: it completes anyway.
    const lu = holdWrites(dev);
    const cancel2 = new Cancellation();
    const inFlight = send(core, atomic16(0, 2), { data: fill(0x55, 2), signal: cancel2.signal }).response;
    await waitUntil(lu.asked, 'the LU write is in flight');
    cancel2.abort();
    lu.open();
    await inFlight;
    expect(dev.buffer.subarray(0, 1024).every((b) => b === 0x55)).toBe(true);
  });

  it('a crash while the LU write is in flight: the journal left behind replays the whole write', async () => {
    const journalPath = join(dir, 'atomic', 'lu.journal');
    const { core, dev } = await atomicSetup(64);
    dev.buffer.fill(0x01, 0, 16 * 512);
    const held = holdWrites(dev);
    const data = Buffer.concat([fill(0x61, 4), fill(0x62, 4)]);
    const w = send(core, atomic16(4, 8), { data }).response;
    await waitUntil(held.asked, 'the atomic write reaches the device');
    // "Crash": keep the journal and the medium as they are now; nothing of the write has landed.
    copyFileSync(journalPath, join(dir, 'crashed.journal'));
    const medium = new MemDevice(64);
    dev.buffer.copy(medium.buffer);
    held.open();
    await w;
    const report = await (await AtomicJournal.open(join(dir, 'crashed.journal'))).replay(medium);
    expect(report.replayed).toMatchObject([{ lba: 4, blocks: 8 }]);
    expect(medium.buffer.subarray(4 * 512, 12 * 512).equals(data)).toBe(true);
    expect(medium.buffer.subarray(0, 4 * 512).every((b) => b === 0x01)).toBe(true);
  });
});

/** Holds every device write until `open()`; `asked` turns true when the first one arrives. */
function holdWrites(dev: MemDevice): { asked: () => boolean; open: () => void } {
  const held = gate();
  let asked = false;
  dev.beforeIo = async (op) => {
    if (op !== 'write') return;
    asked = true;
    await held.promise;
  };
  return { asked: () => asked, open: held.open };
}
