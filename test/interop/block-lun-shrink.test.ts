/**
 * A block device that shrank underneath a block LUN (loop device: backing file truncated, then
 * `losetup -c`): I/O past its new end re-reads the size, answers LBA OUT OF RANGE (not SPACE
 * ALLOCATION FAILED, not a medium error), raises CAPACITY DATA HAS CHANGED on every session, and
 * READ CAPACITY reports the new size. Logged and counted as `shrunk`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { truncateSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { read10, readCapacity16, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { TestInitiator } from '../helpers/initiator.js';
import { createLoop, loopAvailable, type LoopDevice } from '../helpers/loop.js';
import { capturingLogger, startTestTarget, TEST_IQN, type TestTarget } from '../helpers/target.js';
import { findTool } from '../helpers/tools.js';

const MiB = 1024 * 1024;
const GOOD = 0x00;
const LBA_OUT_OF_RANGE = [0x05, 0x21, 0x00];
const CAPACITY_CHANGED = [0x06, 0x2a, 0x09];

const canLoop = loopAvailable();

describe.skipIf(!canLoop)('a block device that shrank underneath its LUN', () => {
  let t: TestTarget | undefined;
  let loop: LoopDevice | undefined;
  const sessions: TestInitiator[] = [];
  afterEach(async () => {
    for (const s of sessions.splice(0)) s.close();
    await t?.stop();
    t = undefined;
    loop?.detach();
    loop = undefined;
  });

  async function session(target: TestTarget): Promise<TestInitiator> {
    const i = await TestInitiator.connect(target.port);
    sessions.push(i);
    // A distinct ISID each: the same one would reinstate (end) the earlier session.
    const isid = Buffer.from(`80123456a00${sessions.length}`, 'hex');
    expect((await i.login({ targetName: TEST_IQN, isid })).status).toEqual([0, 0]);
    await i.command({ cdb: testUnitReady() });
    return i;
  }

  it.each(['write', 'read'] as const)('the %s that finds it: LBA OUT OF RANGE, then CAPACITY DATA HAS CHANGED and the new capacity', async (op) => {
    loop = createLoop(16 * MiB, 512);
    const cap = capturingLogger();
    const dev = loop.dev;
    t = await startTestTarget(
      (raw) => {
        (raw.targets as { luns: unknown[] }[])[0]!.luns = [{ lun: 0, backstore: { type: 'block', path: dev } }];
      },
      { log: cap.log },
    );
    const [a, b] = [await session(t), await session(t)];
    const lba = (12 * MiB) / 512;
    const data = randomBytes(4096);
    expect((await a.command({ cdb: write10(lba, 8, 0x08), write: data })).status).toBe(GOOD);

    truncateSync(loop.file, 8 * MiB);
    execFileSync(findTool('losetup')!, ['-c', dev]);

    const r = op === 'write' ? await a.command({ cdb: write10(lba, 8), write: data }) : await a.command({ cdb: read10(lba, 8), read: 4096 });
    expect(senseCodes(r.sense)).toEqual(LBA_OUT_OF_RANGE);
    for (const i of [a, b]) expect(senseCodes((await i.command({ cdb: testUnitReady() })).sense)).toEqual(CAPACITY_CHANGED);
    const rc = await a.command({ cdb: readCapacity16(), read: 32 });
    expect(rc.data.readBigUInt64BE(0)).toBe(BigInt((8 * MiB) / 512 - 1));
    // Now refused by the range check, before any I/O; below the new end all is well.
    expect(senseCodes((await b.command({ cdb: write10(lba, 8), write: data })).sense)).toEqual(LBA_OUT_OF_RANGE);
    expect((await b.command({ cdb: write10(8, 8), write: data })).status).toBe(GOOD);
    expect((await b.command({ cdb: read10(8, 8), read: 4096 })).data.equals(data)).toBe(true);
    expect(t.scatter.lunRegistry.get(TEST_IQN, 0)!.queue!.size).toBe(8 * MiB);
    expect(cap.messages('backstore error')).toEqual([expect.objectContaining({ level: 50, lun: 0, op, cause: 'shrunk', lba, blocks: 8, path: dev })]);
  });
});
