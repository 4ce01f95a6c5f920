import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeHeader } from '../../../src/block/atomic-journal-format.js';
import { atomicJournalFilePath, atomicJournalStatePath } from '../../../src/scsi/sbc/atomic-journal-path.js';
import { openAtomicJournal, type AtomicSetupLogger } from '../../../src/scsi/sbc/atomic-setup.js';
import { MemDevice } from '../../helpers/mem-device.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scatter-atomic-setup-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function recordingLog(): AtomicSetupLogger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  return {
    lines,
    warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void lines.push({ level: 'error', obj, msg }),
  };
}

function journalWithRecord(path: string): Buffer {
  const data = Buffer.alloc(2 * 512, 0x3c);
  const bytes = Buffer.concat([encodeHeader({ seq: 1n, lba: 4, blocks: 2, blockSize: 512 }, [data]), data]);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return bytes;
}

describe('atomic journal paths', () => {
  it('file LUNs beside the backing file, block LUNs under stateDir, the IQN made filesystem-safe', () => {
    expect(atomicJournalFilePath('/srv/luns/a.img', 'iqn.2026-11.io.Scatter:x/y', 3)).toBe(
      '/srv/luns/atomic/iqn.2026-11.io.scatter:x_y-3.journal',
    );
    expect(atomicJournalStatePath('/var/lib/scatter', 'iqn.2026-11.io.scatter:t', 0)).toBe(
      '/var/lib/scatter/atomic/iqn.2026-11.io.scatter:t-0.journal',
    );
  });
});

describe('openAtomicJournal', () => {
  it('no path (null LUNs): not offered, nothing created', async () => {
    const log = recordingLog();
    expect(await openAtomicJournal({ path: undefined, readOnly: false, device: new MemDevice(16), log, where: {} })).toBeUndefined();
    expect(log.lines).toEqual([]);
  });

  it('a writable LU: creates the journal (and its directory), replays what a crash left and logs it at warn', async () => {
    const path = join(dir, 'atomic', 'x.journal');
    journalWithRecord(path);
    const dev = new MemDevice(16);
    const log = recordingLog();
    const journal = await openAtomicJournal({ path, readOnly: false, device: dev, log, where: { lun: 0 } });
    expect(journal).toBeDefined();
    expect(dev.buffer.subarray(4 * 512, 6 * 512).every((b) => b === 0x3c)).toBe(true);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({ level: 'warn', obj: { lun: 0, replayed: [{ lba: 4, blocks: 2 }], torn: 0 } });

    const fresh = join(dir, 'new', 'atomic', 'y.journal');
    const quiet = recordingLog();
    expect(await openAtomicJournal({ path: fresh, readOnly: false, device: new MemDevice(16), log: quiet, where: {} })).toBeDefined();
    expect(existsSync(fresh)).toBe(true);
    expect(quiet.lines).toEqual([]);
  });

  it('a read-only LU: not offered; an intact record is left alone and logged at error', async () => {
    const path = join(dir, 'atomic', 'ro.journal');
    const before = journalWithRecord(path);
    const dev = new MemDevice(16);
    const log = recordingLog();
    expect(await openAtomicJournal({ path, readOnly: true, device: dev, log, where: {} })).toBeUndefined();
    expect(dev.log).toEqual([]);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(log.lines.map((l) => l.level)).toEqual(['error']);
    // And none is created for a read-only LU that never had one.
    const none = join(dir, 'atomic', 'none.journal');
    expect(await openAtomicJournal({ path: none, readOnly: true, device: dev, log, where: {} })).toBeUndefined();
    expect(existsSync(none)).toBe(false);
  });
});

describe('openAtomicJournal where no journal can be created', () => {
  it('serves the LU without atomic writes and says so at warn', async () => {
    // A regular file where the journal directory should be: mkdir fails.
    writeFileSync(join(dir, 'atomic'), 'not a directory');
    const log = recordingLog();
    const journal = await openAtomicJournal({ path: join(dir, 'atomic', 'x.journal'), readOnly: false, device: new MemDevice(16), log, where: {} });
    expect(journal).toBeUndefined();
    expect(log.lines.map((l) => l.level)).toEqual(['warn']);
  });
});
