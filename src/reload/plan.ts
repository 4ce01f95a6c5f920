/**
 * What a config reload can change live, worked out from the running config and the new file
 * without touching anything: LUNs added or removed per target, file / null LUNs grown, block
 * LUNs' sizes re-read, LUNs whose storage is offline opened again (with their new config), failed
 * write-backs acknowledged. Everything else is reported as needing a restart.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Config, LunConfig, TargetConfig } from '../config/schema.js';
import type { LunFault } from '../runtime/lun-registry.js';

export type ReloadStep =
  | { readonly kind: 'add'; readonly target: TargetConfig; readonly lun: LunConfig }
  | { readonly kind: 'remove'; readonly iqn: string; readonly lun: number }
  /** File / null: grow to `size`. Block: `size` undefined, re-read the device's size. */
  | { readonly kind: 'resize'; readonly iqn: string; readonly lun: number; readonly size: number | undefined }
  /** An LU whose storage is offline (or never opened): close it and open it again from `lun`. */
  | { readonly kind: 'reopen'; readonly target: TargetConfig; readonly lun: LunConfig }
  /** An LU whose write-back failed: the reload is the operator's acknowledgement (LiveLuns.recover). */
  | { readonly kind: 'recover'; readonly iqn: string; readonly lun: number };

export interface ReloadPlan {
  /** In the order to apply them: removals, additions, reopens, recoveries, resizes. */
  readonly steps: readonly ReloadStep[];
  /** Changes left alone until a restart, one line each (e.g. `iscsi.portals changed`). */
  readonly needsRestart: readonly string[];
  /** Changes refused outright, one line each (a shrink: it would lose data). */
  readonly refused: readonly string[];
}

/** The fault of a running LUN, undefined while it serves normally (LiveLuns.faultOf). */
export type FaultLookup = (iqn: string, lun: number) => LunFault | undefined;

/**
 * `faultOf`: which LUs of the running server are not serving normally. An offline one is opened
 * again from the new file whatever changed in it (it serves nothing that a change could disturb);
 * a failed write-back is acknowledged, and its other changes planned as usual.
 */
export function planReload(running: Config, next: Config, faultOf: FaultLookup = () => undefined): ReloadPlan {
  const removes: ReloadStep[] = [];
  const adds: ReloadStep[] = [];
  const reopens: ReloadStep[] = [];
  const resizes: ReloadStep[] = [];
  const needsRestart: string[] = [];
  const refused: string[] = [];

  for (const path of changedPaths(omit(running, 'targets'), omit(next, 'targets'), '')) needsRestart.push(`${path} changed`);

  const before = new Map(running.targets.map((t) => [t.iqn, t]));
  const after = new Map(next.targets.map((t) => [t.iqn, t]));
  for (const iqn of before.keys()) if (!after.has(iqn)) needsRestart.push(`target ${iqn} removed`);
  for (const iqn of after.keys()) if (!before.has(iqn)) needsRestart.push(`target ${iqn} added`);

  for (const [iqn, old] of before) {
    const now = after.get(iqn);
    if (!now) continue;
    for (const path of changedPaths(omit(old, 'luns'), omit(now, 'luns'), `target ${iqn} `)) needsRestart.push(`${path} changed`);
    const oldLuns = new Map(old.luns.map((l) => [l.lun, l]));
    const newLuns = new Map(now.luns.map((l) => [l.lun, l]));
    for (const lun of oldLuns.keys()) if (!newLuns.has(lun)) removes.push({ kind: 'remove', iqn, lun });
    for (const [lun, l] of newLuns) if (!oldLuns.has(lun)) adds.push({ kind: 'add', target: now, lun: l });
    for (const [lun, was] of oldLuns) {
      const is = newLuns.get(lun);
      if (!is) continue;
      const fault = faultOf(iqn, lun);
      if (fault === 'offline') {
        reopens.push({ kind: 'reopen', target: now, lun: is });
        continue;
      }
      if (fault === 'writeback_failed') reopens.push({ kind: 'recover', iqn, lun });
      const where = `target ${iqn} LUN ${lun} `;
      const other = changedPaths(withoutSize(was), withoutSize(is), where);
      if (other.length > 0) {
        // A LUN whose backstore changed in kind is not resized either: it is served as it was.
        for (const path of other) needsRestart.push(`${path} changed`);
        continue;
      }
      const from = sizeOf(was);
      const to = sizeOf(is);
      if (is.backstore.type === 'block') resizes.push({ kind: 'resize', iqn, lun, size: undefined });
      else if (to !== undefined && from !== undefined && to > from) resizes.push({ kind: 'resize', iqn, lun, size: to });
      else if (to !== undefined && from !== undefined && to < from) {
        refused.push(`${where}shrink from ${from} to ${to} bytes refused: it would lose the data past the new end`);
      }
    }
  }
  return { steps: [...removes, ...adds, ...reopens, ...resizes], needsRestart, refused };
}

function sizeOf(lun: LunConfig): number | undefined {
  return 'size' in lun.backstore ? lun.backstore.size : undefined;
}

/** The backstore without what a reload applies live (size) or what only matters at the next open (create). */
function withoutSize(lun: LunConfig): Record<string, unknown> {
  const backstore: Record<string, unknown> = { ...lun.backstore };
  delete backstore.size;
  delete backstore.create;
  return { ...lun, backstore };
}

function omit<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  const copy = { ...value };
  delete copy[key];
  return copy;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Dotted paths (with `prefix`) where `a` and `b` differ; objects are descended into, arrays compared whole. */
export function changedPaths(a: unknown, b: unknown, prefix: string, path = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => changedPaths(a[k], b[k], prefix, path === '' ? k : `${path}.${k}`));
  }
  return isDeepStrictEqual(a, b) ? [] : [`${prefix}${path || '(value)'}`];
}
