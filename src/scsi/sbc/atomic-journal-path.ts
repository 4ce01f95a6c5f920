import { lunStateBesideBackingFile, lunStateInStateDir } from '../lun-state-path.js';

/** `<dir of the backing file>/atomic/<target iqn>-<lun>.journal`: a file LUN's journal sits beside its data. */
export function atomicJournalFilePath(backingFile: string, iqn: string, lun: number): string {
  return lunStateBesideBackingFile('atomic', backingFile, iqn, lun);
}

/** `<stateDir>/atomic/<target iqn>-<lun>.journal`: for block LUNs (a device node's directory is no place for it). */
export function atomicJournalStatePath(stateDir: string, iqn: string, lun: number): string {
  return lunStateInStateDir('atomic', stateDir, iqn, lun);
}
