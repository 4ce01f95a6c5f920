/** A target of the config made real: its LUNs opened, its SCSI core, the iSCSI target node over it. */
import type { TargetConfig } from '../config/schema.js';
import { chapConfigFromAuth } from '../iscsi/chap.js';
import type { IscsiTarget, PortalAddress } from '../iscsi/target.js';
import { ScsiTargetCore } from '../scsi/target-core.js';
import type { LunEntry, LunRegistry } from './lun-registry.js';
import { targetAccessFromConfig } from './target-access.js';
import { logLuState, luWhere } from './lu-state-log.js';
import { failedLun, openLun, type LunOpenContext } from './open-lun.js';

/**
 * Opens every LUN of `target` into `registry`: one that cannot be opened does not stop the others,
 * it is served as failed (NOT READY) until a config change opens it again.
 */
export async function openTargetLuns(target: TargetConfig, registry: LunRegistry, ctx: LunOpenContext): Promise<LunEntry[]> {
  const entries: LunEntry[] = [];
  for (const lun of target.luns) {
    let entry: LunEntry;
    try {
      entry = await openLun(target, lun, ctx);
      logLuState(ctx.log, 'info', { ...luWhere(entry), change: 'ready', backstore: lun.backstore.type, size: entry.unit.device.size }, 'LUN ready');
    } catch (err) {
      entry = failedLun(target, lun, err, ctx);
    }
    registry.set(entry);
    entries.push(entry);
  }
  return entries;
}

/**
 * The iSCSI target node for `target` over LUs already opened: one portal group, tag 1, or in
 * cluster mode the node's port group (so each node is its own SCSI target port, and the relative
 * target port id REPORT TARGET PORT GROUPS lists), with the cluster's ALUA provider.
 */
export function buildIscsiTarget(
  target: TargetConfig,
  portals: readonly PortalAddress[],
  entries: readonly LunEntry[],
  ctx: LunOpenContext,
): IscsiTarget {
  return {
    iqn: target.iqn,
    alias: target.alias,
    portalGroupTag: ctx.cluster?.portGroup ?? 1,
    portals,
    chap: chapConfigFromAuth(target.auth) ?? undefined,
    scsi: new ScsiTargetCore({ targetName: target.iqn, luns: entries.map((e) => e.unit), logger: ctx.log, alua: ctx.cluster?.aluaFor(target.iqn) }),
    access: targetAccessFromConfig(target),
  };
}
