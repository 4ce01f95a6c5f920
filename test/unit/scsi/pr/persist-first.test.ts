/**
 * PERSISTENT RESERVE OUT with APTPL when the state file cannot be written: the command fails and
 * changes nothing (no registration, key, reservation, generation or unit attention survives);
 * the failure is counted and logged as a `persist` backstore error. A real state file whose
 * directory is blocked by a regular file, behind a real LU.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackstore } from '../../../../src/backstore/file.js';
import { Mempool } from '../../../../src/block/mempool.js';
import { BlockQueue } from '../../../../src/block/queue.js';
import { ScsiStatus } from '../../../../src/scsi/command.js';
import { FileReservationStore } from '../../../../src/scsi/pr/file-store.js';
import { ScsiTargetCore } from '../../../../src/scsi/target-core.js';
import { SA, TYPES } from '../../../helpers/pr.js';
import { makeLu, makeNexus, run, sense, TARGET } from '../fixture.js';
import { basic, readKeys, readReservation, TUR } from './pr-fixture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-pr-persist-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function setupWithStore(name: string) {
  const prDir = join(dir, name);
  const queue = new BlockQueue(await FileBackstore.open({ path: join(dir, `${name}.img`), size: 1 << 20 }), new Mempool({ pages: 4, pageSize: 65536 }));
  const lu = makeLu(queue, { reservationStore: new FileReservationStore(join(prDir, 'state.json')) });
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
  const [a, b] = [makeNexus(1), makeNexus(2)];
  for (const n of [a, b]) {
    core.addNexus(n);
    await run(core, TUR, { nexus: n });
  }
  /** The state file's directory becomes a regular file: every save fails (ENOTDIR / EEXIST). */
  const block = () => {
    rmSync(prDir, { recursive: true, force: true });
    writeFileSync(prDir, 'not a directory');
  };
  const unblock = () => {
    rmSync(prDir, { force: true });
    mkdirSync(prDir);
  };
  return { core, lu, queue, a, b, block, unblock };
}

describe('APTPL state that cannot be saved changes nothing', () => {
  it('REGISTER with APTPL fails with HARDWARE ERROR and READ KEYS shows no registration', async () => {
    const { core, queue, a, block, unblock } = await setupWithStore('register');
    block();
    const r = await basic(core, a, SA.REGISTER, 0, 0n, 0xaan, { aptpl: true });
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(sense(r)).toMatchObject({ key: 0x4, asc: 0x44, ascq: 0x00 });
    expect(await readKeys(core, a)).toEqual({ generation: 0, keys: [] });
    expect(queue.health.errors.persist).toBe(1);
    // A registration it would have made grants nothing: the key is unknown.
    expect((await basic(core, a, SA.RESERVE, TYPES.WE, 0xaan, 0n)).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
    unblock();
    expect((await basic(core, a, SA.REGISTER, 0, 0n, 0xaan, { aptpl: true })).status).toBe(ScsiStatus.GOOD);
    expect(await readKeys(core, a)).toEqual({ generation: 1, keys: [0xaan] });
    await queue.close();
  });

  it('a failed PREEMPT keeps the victim registered and holding, and tells it nothing', async () => {
    const { core, queue, a, b, block } = await setupWithStore('preempt');
    await basic(core, a, SA.REGISTER, 0, 0n, 0xaan, { aptpl: true });
    await basic(core, b, SA.REGISTER, 0, 0n, 0xbbn, { aptpl: true });
    expect((await basic(core, b, SA.RESERVE, TYPES.EA, 0xbbn, 0n)).status).toBe(ScsiStatus.GOOD);
    block();
    const r = await basic(core, a, SA.PREEMPT, TYPES.EA, 0xaan, 0xbbn);
    expect(sense(r)).toMatchObject({ key: 0x4, asc: 0x44 });
    expect(await readKeys(core, a)).toEqual({ generation: 2, keys: [0xaan, 0xbbn] });
    expect(await readReservation(core, a)).toEqual({ generation: 2, key: 0xbbn, type: TYPES.EA });
    // No REGISTRATIONS PREEMPTED unit attention for b: its next command just runs.
    expect((await run(core, TUR, { nexus: b })).status).toBe(ScsiStatus.GOOD);
    await queue.close();
  });

  it('while the save is under way other commands see the old state; once it is durable, the new one', async () => {
    const file = new FileReservationStore(join(dir, 'ordering', 'state.json'));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let saving!: () => void;
    const started = new Promise<void>((r) => (saving = r));
    // The real file store, its save held until the test lets it go.
    const store = {
      load: () => file.load(),
      save: async (s: Parameters<FileReservationStore['save']>[0]) => {
        saving();
        await held;
        await file.save(s);
      },
    };
    const lu = makeLu(new BlockQueue(await FileBackstore.open({ path: join(dir, 'ordering.img'), size: 1 << 20 }), new Mempool({ pages: 4, pageSize: 65536 })), {
      reservationStore: store,
    });
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
    const [a, b] = [makeNexus(1), makeNexus(2)];
    for (const n of [a, b]) {
      core.addNexus(n);
      await run(core, TUR, { nexus: n });
    }
    const registering = basic(core, a, SA.REGISTER, 0, 0n, 0x11n, { aptpl: true });
    await started;
    expect(await readKeys(core, b)).toEqual({ generation: 0, keys: [] });
    release();
    expect((await registering).status).toBe(ScsiStatus.GOOD);
    expect(await readKeys(core, b)).toEqual({ generation: 1, keys: [0x11n] });
    expect(file.load()?.registrations.map((g) => g.key)).toEqual(['0000000000000011']);
    await lu.device.close();
  });
});
