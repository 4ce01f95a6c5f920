import { access } from 'node:fs/promises';
import { AtomicJournal } from '../../block/atomic-journal.js';
import type { BlockDevice } from '../../block/device.js';

export interface AtomicSetupLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AtomicSetup {
  /** Journal file; undefined = WRITE ATOMIC(16) is not offered on this LU (null LUNs). */
  readonly path: string | undefined;
  readonly readOnly: boolean;
  /** The LU's block device, before it is served: replay writes through it. */
  readonly device: BlockDevice;
  readonly log: AtomicSetupLogger;
  /** For the log lines. */
  readonly where: object;
}

/**
 * The LU's WRITE ATOMIC(16) journal, with any record a crash left in it already replayed (call
 * this before the LU is served), or undefined where the command is not offered: no path (null
 * LUNs), no journal can be created there (logged), or a read-only LU, which cannot replay either:
 * a journal of one with intact records is left alone and logged at error.
 */
export async function openAtomicJournal(s: AtomicSetup): Promise<AtomicJournal | undefined> {
  if (!s.path) return undefined;
  if (s.readOnly || s.device.readOnly) {
    const exists = await access(s.path).then(
      () => true,
      () => false,
    );
    if (!exists) return undefined;
    const valid = await AtomicJournal.open(s.path)
      .then((j) => j.scan())
      .then(
        (scan) => scan.valid,
        (err: unknown) => {
          s.log.error({ ...s.where, journal: s.path, err }, 'cannot read the atomic-write journal of a read-only LU');
          return [];
        },
      );
    if (valid.length > 0) {
      s.log.error(
        { ...s.where, journal: s.path, records: valid.length },
        'read-only LU has atomic writes to replay: serve it writable once to land them',
      );
    }
    return undefined;
  }
  let journal: AtomicJournal;
  try {
    // The journal is a state file: its failures are backstore errors of the LU (logged, counted as persist).
    journal = await AtomicJournal.open(s.path, undefined, (err, errno) =>
      s.device.health?.report({ cause: 'persist', op: 'WRITE ATOMIC (journal)', errno, message: err.message }),
    );
  } catch (err) {
    // No place for a journal (e.g. a directory we may not write): serve the LU without atomic writes.
    s.log.warn({ ...s.where, journal: s.path, err }, 'cannot create the atomic-write journal: WRITE ATOMIC(16) not offered');
    return undefined;
  }
  // A failed replay is fatal for this LU: serving it would expose a half-applied atomic write.
  const report = await journal.replay(s.device);
  if (report.replayed.length > 0 || report.torn > 0 || report.discarded.length > 0) {
    s.log.warn(
      {
        ...s.where,
        journal: s.path,
        replayed: report.replayed.map((r) => ({ lba: r.lba, blocks: r.blocks })),
        torn: report.torn,
        discarded: report.discarded.map((d) => ({ lba: d.record.lba, blocks: d.record.blocks, why: d.why })),
      },
      'atomic-write journal replayed after a crash',
    );
  }
  return journal;
}
