import { dirname, join } from 'node:path';

/**
 * Where per-LU state that must survive a restart lives (APTPL reservations, atomic-write
 * journals, the marker of a running sanitize): `<dir>/<kind>/<target iqn>-<lun>.<ext>`, the IQN made safe for any filesystem. A
 * file LUN keeps it beside its backing file; a block LUN (a device node's directory is no place
 * for it) under the configured stateDir.
 */
export type LunStateKind = 'pr' | 'atomic' | 'sanitize';

const EXTENSION: Record<LunStateKind, string> = { pr: 'json', atomic: 'journal', sanitize: 'json' };

function fileName(kind: LunStateKind, iqn: string, lun: number): string {
  const safe = iqn.toLowerCase().replace(/[^a-z0-9.:-]/g, '_');
  return `${safe}-${lun}.${EXTENSION[kind]}`;
}

export function lunStateBesideBackingFile(kind: LunStateKind, backingFile: string, iqn: string, lun: number): string {
  return join(dirname(backingFile), kind, fileName(kind, iqn, lun));
}

export function lunStateInStateDir(kind: LunStateKind, stateDir: string, iqn: string, lun: number): string {
  return join(stateDir, kind, fileName(kind, iqn, lun));
}
