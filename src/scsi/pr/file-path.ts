import { dirname, join } from 'node:path';

/** `<target iqn>-<lun>.json`, the name made safe for any filesystem. */
function reservationFileName(iqn: string, lun: number): string {
  const safe = iqn.toLowerCase().replace(/[^a-z0-9.:-]/g, '_');
  return `${safe}-${lun}.json`;
}

/** `<dir of the backing file>/pr/<target iqn>-<lun>.json`: file LUNs keep their APTPL state beside their data. */
export function reservationFilePath(backingFile: string, iqn: string, lun: number): string {
  return join(dirname(backingFile), 'pr', reservationFileName(iqn, lun));
}

/** `<stateDir>/pr/<target iqn>-<lun>.json`: for LUNs whose backstore has no directory of its own (block devices). */
export function reservationStatePath(stateDir: string, iqn: string, lun: number): string {
  return join(stateDir, 'pr', reservationFileName(iqn, lun));
}
