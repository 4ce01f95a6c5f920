/** A target's access control (iscsi/target-access.ts) from its config: at start-up and for changes at run time. */
import type { TargetConfig } from '../config/schema.js';
import { chapConfigFromAuth } from '../iscsi/chap.js';
import type { TargetAccess } from '../iscsi/target-access.js';

/**
 * The access of a validated target config: `allowAnyInitiator` (defaulted by the schema) and one
 * ACL per initiator, its `auth` (when set) turned into the CHAP it must pass (null = none) and its
 * LUN mappings (absent = every LUN as it is). Pass the result to IscsiServer.setTargetAccess to
 * apply a changed config to a running target.
 */
export function targetAccessFromConfig(target: TargetConfig): TargetAccess {
  return {
    allowAnyInitiator: target.allowAnyInitiator,
    acls: target.acls.map((acl) => ({
      initiator: acl.initiator.toLowerCase(),
      chap: acl.auth === undefined ? undefined : chapConfigFromAuth(acl.auth),
      luns: acl.luns?.map((l) => ({ lun: l.lun, as: l.as, readOnly: l.readOnly })),
    })),
  };
}
