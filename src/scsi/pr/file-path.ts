import { lunStateBesideBackingFile, lunStateInStateDir } from '../lun-state-path.js';

/** `<dir of the backing file>/pr/<target iqn>-<lun>.json`: file LUNs keep their APTPL state beside their data. */
export function reservationFilePath(backingFile: string, iqn: string, lun: number): string {
  return lunStateBesideBackingFile('pr', backingFile, iqn, lun);
}

/** `<stateDir>/pr/<target iqn>-<lun>.json`: for LUNs whose backstore has no directory of its own (block devices). */
export function reservationStatePath(stateDir: string, iqn: string, lun: number): string {
  return lunStateInStateDir('pr', stateDir, iqn, lun);
}
