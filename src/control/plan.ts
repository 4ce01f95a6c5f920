/**
 * What a config change does to the running target, worked out from the config in effect and the
 * wanted one without touching anything: the steps to apply (in order), what only a restart can
 * change, and what is refused outright. The same plan serves SIGHUP, `PUT /v1/config` (also as a
 * dry run) and every resource edit of the admin API.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AuthConfig, Config, LunConfig, PortalConfig, TargetConfig } from '../config/schema.js';
import type { LunFault } from '../runtime/lun-registry.js';

export type PlanStep =
  | { readonly kind: 'removePortal'; readonly portal: PortalConfig }
  | { readonly kind: 'addPortal'; readonly portal: PortalConfig }
  | { readonly kind: 'setDiscoveryAuth'; readonly from: AuthConfig; readonly to: AuthConfig }
  | { readonly kind: 'setNegotiation'; readonly from: Config['iscsi']; readonly to: Config['iscsi'] }
  | { readonly kind: 'addTarget'; readonly target: TargetConfig }
  /** Alias, authentication (and access) of a target that stays. */
  | { readonly kind: 'updateTarget'; readonly from: TargetConfig; readonly to: TargetConfig }
  | { readonly kind: 'addLun'; readonly target: TargetConfig; readonly lun: LunConfig }
  /** Its backstore or LU settings changed: taken out and put back from the new config. */
  | { readonly kind: 'replaceLun'; readonly target: TargetConfig; readonly from: LunConfig; readonly to: LunConfig }
  /** An LU whose storage is offline (or never opened): opened again from `lun`. */
  | { readonly kind: 'reopenLun'; readonly target: TargetConfig; readonly lun: LunConfig }
  /** An LU whose write-back failed: applying a config is the operator's acknowledgement. */
  | { readonly kind: 'recoverLun'; readonly iqn: string; readonly lun: number }
  | { readonly kind: 'removeLun'; readonly target: TargetConfig; readonly lun: LunConfig }
  | { readonly kind: 'removeTarget'; readonly target: TargetConfig }
  /** File / null: grow to `size`. Block: `size` undefined, re-read the device's size. */
  | { readonly kind: 'resizeLun'; readonly iqn: string; readonly lun: number; readonly size: number | undefined };

export interface ChangePlan {
  /** In the order to apply them (see planChange). */
  readonly steps: readonly PlanStep[];
  /** Changes written to the config but in effect only after a restart, one line each. */
  readonly needsRestart: readonly string[];
  /** Changes refused outright (a shrink would lose data), one line each: the whole change is refused. */
  readonly refused: readonly string[];
}

/** The fault of a running LUN, undefined while it serves normally (LiveLuns.faultOf). */
export type FaultLookup = (iqn: string, lun: number) => LunFault | undefined;

export interface PlanOptions {
  /**
   * The operator re-applies the whole config (SIGHUP, `PUT /v1/config`): offline LUNs are opened
   * again, failed write-backs acknowledged, block devices' sizes re-read. A resource edit does
   * none of that, so that the same edit twice plans nothing.
   */
  readonly reapply?: FaultLookup;
}

/** iSCSI keys that take effect for the next login without a restart. */
export const LIVE_ISCSI_KEYS = [
  'portals',
  'maxRecvDataSegmentLength',
  'maxBurstLength',
  'firstBurstLength',
  'maxOutstandingR2T',
  'immediateData',
  'initialR2T',
  'headerDigest',
  'dataDigest',
] as const;

/**
 * Order: portals (removed first, so that an address can move between portals), settings, targets
 * and LUNs added or replaced, then what takes sessions or data away (LUNs and targets removed),
 * and last the resizes, which cannot be undone: a step that fails rolls back only steps before it.
 */
export function planChange(running: Config, next: Config, opts: PlanOptions = {}): ChangePlan {
  const early: PlanStep[] = [];
  const removals: PlanStep[] = [];
  const resizes: PlanStep[] = [];
  const needsRestart: string[] = [];
  const refused: string[] = [];

  planPortals(running, next, early);
  for (const path of changedPaths(restartOnly(running), restartOnly(next), '')) needsRestart.push(`${path} changed`);
  if (!isDeepStrictEqual(liveIscsi(running.iscsi), liveIscsi(next.iscsi))) early.push({ kind: 'setNegotiation', from: running.iscsi, to: next.iscsi });
  if (!isDeepStrictEqual(running.discoveryAuth, next.discoveryAuth)) {
    early.push({ kind: 'setDiscoveryAuth', from: running.discoveryAuth, to: next.discoveryAuth });
  }

  const before = byIqn(running.targets);
  const after = byIqn(next.targets);
  for (const [key, target] of before) if (!after.has(key)) removals.push({ kind: 'removeTarget', target });
  for (const [key, target] of after) if (!before.has(key)) early.push({ kind: 'addTarget', target });
  for (const [key, was] of before) {
    const is = after.get(key);
    if (!is) continue;
    if (!isDeepStrictEqual(targetSettings(was), targetSettings(is))) early.push({ kind: 'updateTarget', from: was, to: is });
    planLuns(was, is, opts, { early, removals, resizes, refused });
  }
  return { steps: [...early, ...removals, ...resizes], needsRestart, refused };
}

function planPortals(running: Config, next: Config, steps: PlanStep[]): void {
  const key = (p: PortalConfig) => `${p.host.toLowerCase()}|${p.port}`;
  const was = new Map(running.iscsi.portals.map((p) => [key(p), p]));
  const is = new Map(next.iscsi.portals.map((p) => [key(p), p]));
  for (const [k, portal] of was) if (!is.has(k)) steps.push({ kind: 'removePortal', portal });
  for (const [k, portal] of is) if (!was.has(k)) steps.push({ kind: 'addPortal', portal });
}

interface LunSteps {
  early: PlanStep[];
  removals: PlanStep[];
  resizes: PlanStep[];
  refused: string[];
}

function planLuns(was: TargetConfig, is: TargetConfig, opts: PlanOptions, out: LunSteps): void {
  const oldLuns = new Map(was.luns.map((l) => [l.lun, l]));
  const newLuns = new Map(is.luns.map((l) => [l.lun, l]));
  for (const [n, lun] of oldLuns) if (!newLuns.has(n)) out.removals.push({ kind: 'removeLun', target: was, lun });
  for (const [n, lun] of newLuns) if (!oldLuns.has(n)) out.early.push({ kind: 'addLun', target: is, lun });
  for (const [n, from] of oldLuns) {
    const to = newLuns.get(n);
    if (!to) continue;
    const fault = opts.reapply?.(was.iqn, n);
    if (fault === 'offline') {
      // Serves nothing a change could disturb: open it again from the new config, whatever changed.
      out.early.push({ kind: 'reopenLun', target: is, lun: to });
      continue;
    }
    if (fault === 'writeback_failed') out.early.push({ kind: 'recoverLun', iqn: is.iqn, lun: n });
    if (!isDeepStrictEqual(lunSettings(from), lunSettings(to))) {
      out.early.push({ kind: 'replaceLun', target: is, from, to });
      continue;
    }
    const oldSize = sizeOf(from);
    const newSize = sizeOf(to);
    const where = `target ${is.iqn} LUN ${n}`;
    if (to.backstore.type === 'block') {
      if (opts.reapply) out.resizes.push({ kind: 'resizeLun', iqn: is.iqn, lun: n, size: undefined });
    } else if (oldSize !== undefined && newSize !== undefined && newSize > oldSize) {
      out.resizes.push({ kind: 'resizeLun', iqn: is.iqn, lun: n, size: newSize });
    } else if (oldSize !== undefined && newSize !== undefined && newSize < oldSize) {
      out.refused.push(`${where}: shrink from ${oldSize} to ${newSize} bytes refused: it would lose the data past the new end`);
    }
  }
}

function byIqn(targets: readonly TargetConfig[]): Map<string, TargetConfig> {
  return new Map(targets.map((t) => [t.iqn.toLowerCase(), t]));
}

/** What updateTarget applies: everything of a target but its LUNs. */
function targetSettings(target: TargetConfig): Record<string, unknown> {
  const { luns: _luns, ...settings } = target;
  return settings;
}

/**
 * What replaceLun applies: everything of a LUN but its size (resized in place), `create` (only
 * matters when the file is opened) and the name its backstore goes by in the file.
 */
function lunSettings(lun: LunConfig): Record<string, unknown> {
  const { backstoreName: _name, backstore, ...settings } = lun;
  const store: Record<string, unknown> = { ...backstore };
  delete store.size;
  delete store.create;
  return { ...settings, backstore: store };
}

function sizeOf(lun: LunConfig): number | undefined {
  return 'size' in lun.backstore ? lun.backstore.size : undefined;
}

/** The negotiation keys of LIVE_ISCSI_KEYS (portals are planned one by one). */
function liveIscsi(iscsi: Config['iscsi']): Record<string, unknown> {
  const live: Record<string, unknown> = {};
  for (const key of LIVE_ISCSI_KEYS) if (key !== 'portals') live[key] = iscsi[key];
  return live;
}

/** Everything only a restart applies: the config without targets, backstores, discovery auth and the live iSCSI keys. */
export function restartOnly(config: Config): Record<string, unknown> {
  const { targets: _t, backstores: _b, discoveryAuth: _d, iscsi, ...rest } = config;
  const iscsiRest: Record<string, unknown> = { ...iscsi };
  for (const key of LIVE_ISCSI_KEYS) delete iscsiRest[key];
  return { ...rest, iscsi: iscsiRest };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The config in effect once `next` is applied: `next`, but what only a restart changes as it runs now. */
export function inEffect(running: Config, next: Config): Config {
  const iscsi = { ...running.iscsi };
  for (const key of LIVE_ISCSI_KEYS) Object.assign(iscsi, { [key]: next.iscsi[key] });
  return { ...running, iscsi, targets: next.targets, backstores: next.backstores, discoveryAuth: next.discoveryAuth };
}

/** Dotted paths (with `prefix`) where `a` and `b` differ; objects are descended into, arrays compared whole. */
export function changedPaths(a: unknown, b: unknown, prefix: string, path = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => changedPaths(a[k], b[k], prefix, path === '' ? k : `${path}.${k}`));
  }
  return isDeepStrictEqual(a, b) ? [] : [`${prefix}${path || '(value)'}`];
}

/** One line per step, for logs, dry runs and API answers. */
export function describeStep(step: PlanStep): string {
  switch (step.kind) {
    case 'removePortal':
      return `stop serving portal ${step.portal.host}:${step.portal.port}`;
    case 'addPortal':
      return `serve portal ${step.portal.host}:${step.portal.port}`;
    case 'setDiscoveryAuth':
      return `discovery authentication ${step.to.method}`;
    case 'setNegotiation':
      return `iSCSI parameters for new logins: ${changedPaths(liveIscsi(step.from), liveIscsi(step.to), '').join(', ')}`;
    case 'addTarget':
      return `add target ${step.target.iqn} with ${step.target.luns.length} LUN(s)`;
    case 'updateTarget':
      return `change target ${step.to.iqn}: ${changedPaths(targetSettings(step.from), targetSettings(step.to), '').join(', ')}`;
    case 'addLun':
      return `add ${step.target.iqn} LUN ${step.lun.lun} (${step.lun.backstore.type})`;
    case 'replaceLun':
      return `replace ${step.target.iqn} LUN ${step.to.lun}: ${changedPaths(lunSettings(step.from), lunSettings(step.to), '').join(', ')}`;
    case 'reopenLun':
      return `open ${step.target.iqn} LUN ${step.lun.lun} again`;
    case 'recoverLun':
      return `acknowledge the failed write-back of ${step.iqn} LUN ${step.lun}`;
    case 'removeLun':
      return `remove ${step.target.iqn} LUN ${step.lun.lun}`;
    case 'removeTarget':
      return `remove target ${step.target.iqn} (its sessions are logged out)`;
    case 'resizeLun':
      return step.size === undefined
        ? `re-read the size of ${step.iqn} LUN ${step.lun}`
        : `grow ${step.iqn} LUN ${step.lun} to ${step.size} bytes`;
  }
}
