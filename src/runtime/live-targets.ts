import type { TargetConfig } from '../config/schema.js';
import { chapConfigFromAuth } from '../iscsi/chap.js';
import type { IscsiServer } from '../iscsi/iscsi-server.js';
import type { LunRegistry } from './lun-registry.js';
import type { LunOpenContext } from './open-lun.js';
import { buildIscsiTarget, openTargetLuns } from './open-target.js';
import { targetAccessFromConfig } from './target-access.js';

export interface LiveTargetsOptions {
  readonly iscsi: IscsiServer;
  readonly registry: LunRegistry;
  readonly context: LunOpenContext;
}

/**
 * Targets of the running server added, removed and changed without a restart (the admin plane and
 * SIGHUP call it through control/). Every method either does what it says or rejects having
 * changed nothing, except `remove`, whose sessions are gone once it has started.
 */
export class LiveTargets {
  constructor(private readonly opts: LiveTargetsOptions) {}

  /** Opens its LUNs (one that cannot be opened is served NOT READY) and starts answering logins for it. */
  async add(target: TargetConfig): Promise<void> {
    if (this.opts.iscsi.targets.get(target.iqn)) throw new Error(`target ${target.iqn} exists already`);
    const entries = await openTargetLuns(target, this.opts.registry, this.opts.context);
    this.opts.iscsi.targets.add(buildIscsiTarget(target, this.opts.iscsi.boundPortals, entries, this.opts.context));
    this.opts.context.log.info({ target: target.iqn, luns: entries.length }, 'target added');
  }

  /**
   * Ends its sessions (logout requested, closed after `graceMs`), stops answering logins for it,
   * then flushes and closes its LUNs.
   */
  async remove(iqn: string, graceMs: number): Promise<void> {
    const { iscsi, registry } = this.opts;
    const target = iscsi.targets.get(iqn);
    if (!target) throw new Error(`no target ${iqn}`);
    iscsi.targets.remove(iqn);
    const sessions = iscsi.sessions.all().filter((s) => s.target === target);
    await iscsi.logoutSessions(sessions, 'target removed', graceMs);
    for (const lun of target.scsi.lunNumbers) {
      const entry = registry.delete(iqn, lun);
      await (entry?.queue ?? target.scsi.getLogicalUnit(lun)?.device)?.close().catch((err: unknown) => {
        this.opts.context.log.error({ err, target: iqn, lun }, 'closing a LUN of a removed target failed');
      });
    }
    this.opts.context.log.info({ target: iqn, sessions: sessions.length }, 'target removed');
  }

  /**
   * Alias, authentication and access: the next login and discovery see them; sessions logged in
   * keep theirs, except that an initiator's changed LUN mapping is applied at once (REPORTED LUNS
   * DATA HAS CHANGED) and an initiator that lost access is logged out (IscsiServer.setTargetAccess).
   */
  async update(target: TargetConfig, graceMs: number): Promise<void> {
    const node = this.opts.iscsi.targets.get(target.iqn);
    if (!node) throw new Error(`no target ${target.iqn}`);
    node.alias = target.alias;
    node.chap = chapConfigFromAuth(target.auth) ?? undefined;
    await this.opts.iscsi.setTargetAccess(target.iqn, targetAccessFromConfig(target), graceMs);
  }

  /** Sessions logged in to the target now. */
  sessionCount(iqn: string): number {
    const target = this.opts.iscsi.targets.get(iqn);
    return target ? this.opts.iscsi.sessions.all().filter((s) => s.target === target).length : 0;
  }
}
