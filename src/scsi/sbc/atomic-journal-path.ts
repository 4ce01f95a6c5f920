import { dirname, join } from 'node:path';

/** `<target iqn>-<lun>.journal`, the name made safe for any filesystem (as pr/file-path.ts). */
function journalFileName(iqn: string, lun: number): string {
  const safe = iqn.toLowerCase().replace(/[^a-z0-9.:-]/g, '_');
  return `${safe}-${lun}.journal`;
}

/** `<dir of the backing file>/atomic/<target iqn>-<lun>.journal`: a file LUN's journal sits beside its data. */
export function atomicJournalFilePath(backingFile: string, iqn: string, lun: number): string {
  return join(dirname(backingFile), 'atomic', journalFileName(iqn, lun));
}

/** `<stateDir>/atomic/<target iqn>-<lun>.journal`: for block LUNs (a device node's directory is no place for it). */
export function atomicJournalStatePath(stateDir: string, iqn: string, lun: number): string {
  return join(stateDir, 'atomic', journalFileName(iqn, lun));
}
