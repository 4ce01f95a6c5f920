/**
 * Who may log in to a target, with what CHAP, and which LUNs each initiator sees (the target's
 * ACLs). Plain data: the login, discovery and the sessions read it; IscsiServer.setTargetAccess
 * replaces it at run time.
 */
import type { LunMapping, NexusLunView } from '../scsi/target-core.js';
import type { ChapTargetConfig } from './chap.js';

/** One LUN of the target as one initiator sees it. */
export interface AclLun {
  /** The target's LUN. */
  readonly lun: number;
  /** The number the initiator uses. */
  readonly as: number;
  readonly readOnly: boolean;
}

export interface InitiatorAcl {
  /** iSCSI name, lowercase (names compare case-folded, RFC 3722). */
  readonly initiator: string;
  /** undefined: the target's CHAP; null: no authentication for this initiator; else this CHAP. */
  readonly chap?: ChapTargetConfig | null;
  /** undefined: every LUN of the target under its own number, read-write (also LUNs added later). */
  readonly luns?: readonly AclLun[];
}

export interface TargetAccess {
  /** Any initiator may log in and sees every LUN; `acls` are then not consulted. */
  readonly allowAnyInitiator: boolean;
  readonly acls: readonly InitiatorAcl[];
}

/** What a target without ACLs allows: anyone, every LUN. */
export const OPEN_ACCESS: TargetAccess = { allowAnyInitiator: true, acls: [] };

/** The ACL of `initiatorName` (any case); undefined when there is none or any initiator is allowed. */
export function aclFor(access: TargetAccess, initiatorName: string): InitiatorAcl | undefined {
  if (access.allowAnyInitiator) return undefined;
  const name = initiatorName.toLowerCase();
  return access.acls.find((acl) => acl.initiator === name);
}

/** Whether `initiatorName` may log in to (and discover) the target. */
export function permits(access: TargetAccess, initiatorName: string): boolean {
  return access.allowAnyInitiator || aclFor(access, initiatorName) !== undefined;
}

/** The CHAP `initiatorName` must pass: its ACL's when it sets one (null = none), else the target's. */
export function chapFor(access: TargetAccess, initiatorName: string, targetChap: ChapTargetConfig | undefined): ChapTargetConfig | undefined {
  const acl = aclFor(access, initiatorName);
  if (acl?.chap === undefined) return targetChap;
  return acl.chap ?? undefined;
}

/** The SCSI core's LUN view for `initiatorName`'s nexuses; undefined = every LUN as it is. */
export function lunViewFor(access: TargetAccess, initiatorName: string): NexusLunView | undefined {
  const luns = aclFor(access, initiatorName)?.luns;
  if (luns === undefined) return undefined;
  return new Map<number, LunMapping>(luns.map((l) => [l.as, { lun: l.lun, readOnly: l.readOnly }]));
}
