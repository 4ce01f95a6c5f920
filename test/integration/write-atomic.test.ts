import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeHeader, RECORD_HEADER_BYTES } from '../../src/block/atomic-journal-format.js';
import { atomicJournalFilePath, atomicJournalStatePath } from '../../src/scsi/sbc/atomic-journal-path.js';
import { read16, senseCodes, testUnitReady } from '../helpers/cdb.js';
import { fileBytes } from '../helpers/file-bytes.js';
import { TestInitiator } from '../helpers/initiator.js';
import { createLoop, loopAvailable, type LoopDevice } from '../helpers/loop.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const GOOD = 0;
const CHECK_CONDITION = 2;
const BS = 512;
const LUN_BYTES = 64 * 1024 * 1024;

function writeAtomic16(lba: number, blocks: number, flags = 0): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x9c;
  c[1] = flags;
  c.writeBigUInt64BE(BigInt(lba), 2);
  c.writeUInt16BE(blocks, 12);
  return c;
}

async function session(port: number, keys: [string, string][] = []): Promise<TestInitiator> {
  const i = await TestInitiator.connect(port);
  expect((await i.login({ targetName: TEST_IQN, keys })).status).toEqual([0, 0]);
  for (const lun of [0, 1]) {
    const tur = await i.command({ cdb: testUnitReady(), lun });
    expect(tur.status).toBe(CHECK_CONDITION); // the power-on unit attention
  }
  return i;
}

describe('WRITE ATOMIC(16) over iSCSI', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startTestTarget((raw) => {
      // Small bursts: the larger atomic writes arrive over several R2Ts.
      raw.iscsi = { ...(raw.iscsi as object), maxBurstLength: 65536, firstBurstLength: 16384 };
    });
  });
  afterAll(() => t.stop());

  it('writes 1 to 2048 blocks (the maximum) that read back byte-exact, and leaves no record in the journal', async () => {
    const i = await session(t.port, [['MaxRecvDataSegmentLength', '8192']]);
    let lba = 0;
    for (const blocks of [1, 7, 256, 2048]) {
      const data = randomBytes(blocks * BS);
      const w = await i.command({ cdb: writeAtomic16(lba, blocks, 0x08), write: data });
      expect(w.status).toBe(GOOD);
      expect(fileBytes(join(t.dir, 'lun0.img'), lba * BS, data.length).equals(data)).toBe(true);
      const r = await i.command({ cdb: read16(lba, blocks), read: data.length });
      expect(r.status).toBe(GOOD);
      expect(r.data.equals(data)).toBe(true);
      lba += blocks;
    }
    const journal = atomicJournalFilePath(join(t.dir, 'lun0.img'), TEST_IQN, 0);
    expect(existsSync(journal)).toBe(true);
    // Every slot used was invalidated: no magic anywhere at a slot start.
    const bytes = fileBytes(journal, 0, statSync(journal).size);
    expect(bytes.indexOf('SCATATW1')).toBe(-1);
    await i.logout();
  });

  it('concurrent overlapping atomic writes and reads: every read sees one write whole, never a mix', async () => {
    const i = await session(t.port);
    const base = 10_000;
    const blocks = 64;
    const patterns = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
    const ops: Promise<unknown>[] = [];
    const reads: Promise<{ status: number; data: Buffer }>[] = [];
    for (const [k, p] of patterns.entries()) {
      // Each write covers [base + 8k, base + 8k + 64): neighbours overlap by 56 blocks.
      ops.push(i.command({ cdb: writeAtomic16(base + 8 * k, blocks), write: Buffer.alloc(blocks * BS, p) }));
      reads.push(i.command({ cdb: read16(base + 40, 16), read: 16 * BS }));
    }
    await Promise.all(ops);
    for (const r of await Promise.all(reads)) {
      expect(r.status).toBe(GOOD);
      // 16 blocks inside every write's range: all one byte value (one write, whole).
      expect(new Set(r.data).size).toBe(1);
    }
    await i.logout();
  });

  it('a null LUN does not offer it: INVALID COMMAND OPERATION CODE', async () => {
    const i = await session(t.port);
    const r = await i.command({ cdb: writeAtomic16(0, 1), write: Buffer.alloc(BS), lun: 1 });
    expect(r.status).toBe(CHECK_CONDITION);
    expect(senseCodes(r.sense)).toEqual([0x05, 0x20, 0x00]);
    await i.logout();
  });
});

describe('WRITE ATOMIC(16) after a crash', () => {
  let t: TestTarget | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  const LBA = 300;
  const BLOCKS = 24;

  /** A target whose LUN 0 file holds 0x0d everywhere and whose journal holds the given slot. */
  async function crashed(slot: (newData: Buffer) => Buffer): Promise<{ t: TestTarget; newData: Buffer }> {
    const newData = randomBytes(BLOCKS * BS);
    const target = await startTestTarget((_raw, dir) => {
      const image = join(dir, 'lun0.img');
      const fd = openSync(image, 'w');
      writeSync(fd, Buffer.alloc(LUN_BYTES, 0x0d));
      closeSync(fd);
      const journal = atomicJournalFilePath(image, TEST_IQN, 0);
      mkdirSync(dirname(journal), { recursive: true });
      writeFileSync(journal, slot(newData));
    });
    return { t: target, newData };
  }

  const record = (data: Buffer): Buffer => Buffer.concat([encodeHeader({ seq: 1n, lba: LBA, blocks: BLOCKS, blockSize: BS }, [data]), data]);

  it('a valid record for data that never reached the file is replayed before the LU is served', async () => {
    const c = await crashed(record);
    t = c.t;
    const i = await session(t.port);
    const r = await i.command({ cdb: read16(LBA - 1, BLOCKS + 2), read: (BLOCKS + 2) * BS });
    expect(r.status).toBe(GOOD);
    expect(r.data.subarray(BS, (BLOCKS + 1) * BS).equals(c.newData)).toBe(true);
    expect(r.data.subarray(0, BS).every((b) => b === 0x0d)).toBe(true);
    expect(r.data.subarray((BLOCKS + 1) * BS).every((b) => b === 0x0d)).toBe(true);
    // The journal was emptied: a second start would not replay it again.
    expect(statSync(atomicJournalFilePath(join(t.dir, 'lun0.img'), TEST_IQN, 0)).size).toBe(0);
    await i.logout();
  });

  it('a torn record (the crash hit while it was written) is discarded: the old data stays', async () => {
    const c = await crashed((data) => {
      const torn = record(data);
      torn.fill(0, RECORD_HEADER_BYTES + data.length / 2); // only half the data made it
      return torn;
    });
    t = c.t;
    const i = await session(t.port);
    const r = await i.command({ cdb: read16(LBA, BLOCKS), read: BLOCKS * BS });
    expect(r.status).toBe(GOOD);
    expect(r.data.every((b) => b === 0x0d)).toBe(true);
    await i.logout();
  });
});

describe.skipIf(!loopAvailable())('WRITE ATOMIC(16) on a block LUN (journal under stateDir)', () => {
  const loops: LoopDevice[] = [];
  let t: TestTarget | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    for (const l of loops.splice(0)) l.detach();
  });

  it('on 4096-byte sectors: up to 256 blocks written and read back; a record left by a crash is replayed at start', async () => {
    const BS4K = 4096;
    const pending = randomBytes(8 * BS4K);
    loops.push(createLoop(16 * 1024 * 1024, BS4K));
    t = await startTestTarget((raw, dir) => {
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'block', path: loops[0]!.dev } },
        { lun: 1, backstore: { type: 'null', size: '16MiB' } },
      ];
      // A crash left this record: LBA 2000, 8 blocks, never written to the device.
      const journal = atomicJournalStatePath(join(dir, 'state'), TEST_IQN, 0);
      mkdirSync(dirname(journal), { recursive: true });
      writeFileSync(journal, Buffer.concat([encodeHeader({ seq: 1n, lba: 2000, blocks: 8, blockSize: BS4K }, [pending]), pending]));
    });
    expect(t.config.stateDir).toBe(join(t.dir, 'state'));
    const i = await session(t.port);
    const replayed = await i.command({ cdb: read16(2000, 8), read: 8 * BS4K });
    expect(replayed.data.equals(pending)).toBe(true);
    const data = randomBytes(256 * BS4K);
    expect((await i.command({ cdb: writeAtomic16(100, 256), write: data })).status).toBe(GOOD);
    const r = await i.command({ cdb: read16(100, 256), read: data.length });
    expect(r.data.equals(data)).toBe(true);
    expect(statSync(atomicJournalStatePath(t.config.stateDir, TEST_IQN, 0)).isFile()).toBe(true);
    await i.logout();
  });
});
