import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configuredBackstore } from '../../../src/backstore/factory.js';
import { FileBackstore } from '../../../src/backstore/file.js';
import { NullBackstore } from '../../../src/backstore/null.js';
import { ConfigSchema, type BackstoreConfig } from '../../../src/config/schema.js';
import { reservationFilePath, reservationStatePath } from '../../../src/scsi/pr/file-path.js';
import { atomicJournalFilePath, atomicJournalStatePath } from '../../../src/scsi/sbc/atomic-journal-path.js';
import { lunStateInStateDir } from '../../../src/scsi/lun-state-path.js';

const IQN = 'iqn.2026-01.io.scatter:factory';
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scatter-factory-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A backstore entry as the config schema fills it in. */
function config(backstore: Record<string, unknown>): BackstoreConfig {
  return ConfigSchema.parse({ targets: [{ iqn: IQN, luns: [{ lun: 0, backstore }] }] }).targets[0]!.luns[0]!.backstore;
}

describe('configuredBackstore', () => {
  it('a file: its configured facts, state beside the file, opened with its options and a record in stateDir', async () => {
    const path = join(dir, 'a.img');
    const stateDir = join(dir, 'state');
    const c = configuredBackstore(config({ type: 'file', path, size: '1MiB', blockSize: 4096, writeCache: false }), { readOnly: false, stateDir });
    expect(c).toMatchObject({ type: 'file', path, blockSize: 4096, writeCache: false, lunStateDir: dir });
    // The LU's state files are where the SCSI core's path helpers put a file LUN's.
    expect(lunStateInStateDir('pr', c.lunStateDir!, IQN, 0)).toBe(reservationFilePath(path, IQN, 0));
    expect(lunStateInStateDir('atomic', c.lunStateDir!, IQN, 0)).toBe(atomicJournalFilePath(path, IQN, 0));
    const { backstore, fileReport } = await c.open();
    try {
      expect(backstore).toBeInstanceOf(FileBackstore);
      expect(backstore).toMatchObject({ size: 1 << 20, blockSize: 4096, readOnly: false, thin: false, keepsData: true });
      expect(fileReport).toEqual({ created: true, grownFrom: undefined, recordedSize: undefined });
      expect((await stat(path)).size).toBe(1 << 20);
      expect(await readdir(join(stateDir, 'backing'))).toHaveLength(1);
    } finally {
      await backstore.close();
    }
    const ro = await configuredBackstore(config({ type: 'file', path, size: '1MiB' }), { readOnly: true, stateDir }).open();
    expect(ro.backstore.readOnly).toBe(true);
    expect(ro.fileReport).toEqual({ created: false, grownFrom: undefined, recordedSize: undefined });
    await ro.backstore.close();
  });

  it('a block device: 512 until opened, its state in stateDir (not /dev)', () => {
    const stateDir = join(dir, 'state');
    const c = configuredBackstore(config({ type: 'block', path: '/dev/loop7', writeCache: false }), { readOnly: false, stateDir });
    expect(c).toMatchObject({ type: 'block', path: '/dev/loop7', blockSize: 512, writeCache: false, lunStateDir: stateDir });
    expect(lunStateInStateDir('pr', c.lunStateDir!, IQN, 0)).toBe(reservationStatePath(stateDir, IQN, 0));
    expect(lunStateInStateDir('atomic', c.lunStateDir!, IQN, 0)).toBe(atomicJournalStatePath(stateDir, IQN, 0));
  });

  it('a null backstore: no path, no state, write cache on, keeps nothing', async () => {
    const c = configuredBackstore(config({ type: 'null', size: 8192 }), { readOnly: false, stateDir: dir });
    expect(c).toMatchObject({ type: 'null', path: undefined, blockSize: 512, writeCache: true, lunStateDir: undefined });
    const { backstore, fileReport } = await c.open();
    expect(backstore).toBeInstanceOf(NullBackstore);
    expect(backstore).toMatchObject({ size: 8192, blockSize: 512, thin: false, keepsData: false });
    expect(fileReport).toBeUndefined();
  });

  it('refuses an unknown type with EINVAL', () => {
    const bogus = { type: 'tape', size: 1 } as unknown as BackstoreConfig;
    expect(() => configuredBackstore(bogus, { readOnly: false, stateDir: dir })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
