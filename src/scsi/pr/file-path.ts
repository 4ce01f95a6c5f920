import { dirname, join } from 'node:path';

/** `<dir of the backing file>/pr/<target iqn>-<lun>.json`, the name made safe for any filesystem. */
export function reservationFilePath(backingFile: string, iqn: string, lun: number): string {
  const safe = iqn.toLowerCase().replace(/[^a-z0-9.:-]/g, '_');
  return join(dirname(backingFile), 'pr', `${safe}-${lun}.json`);
}
