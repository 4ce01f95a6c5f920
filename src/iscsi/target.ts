import type { ChapTargetConfig } from './chap.js';
import type { TargetAccess } from './target-access.js';
import type { ScsiTargetCore } from '../scsi/target-core.js';

export interface PortalAddress {
  readonly host: string;
  readonly port: number;
}

/** An iSCSI target node: a name, its portals (one portal group, tag 1), auth, and the SCSI device server behind it. */
export interface IscsiTarget {
  readonly iqn: string;
  /** Changed live (runtime/live-targets.ts); new logins and discovery see the new value. */
  alias?: string;
  readonly portalGroupTag: number;
  readonly portals: readonly PortalAddress[];
  /** undefined = AuthMethod None. Changed live: applies to the next login. */
  chap?: ChapTargetConfig;
  readonly scsi: ScsiTargetCore;
  /**
   * Who may log in and which LUNs each initiator sees (undefined = anyone, every LUN). Read at each
   * login and SendTargets; replace it only through IscsiServer.setTargetAccess, which also brings
   * the live sessions in line.
   */
  access?: TargetAccess;
}

export class TargetRegistry {
  private readonly targets = new Map<string, IscsiTarget>();

  add(target: IscsiTarget): void {
    // iSCSI names compare case-insensitively (they are normalised to lower case, RFC 3722).
    this.targets.set(target.iqn.toLowerCase(), target);
  }

  remove(iqn: string): void {
    this.targets.delete(iqn.toLowerCase());
  }

  get(iqn: string): IscsiTarget | undefined {
    return this.targets.get(iqn.toLowerCase());
  }

  all(): IscsiTarget[] {
    return [...this.targets.values()];
  }
}
