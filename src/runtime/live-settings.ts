import type { AuthConfig, Config } from '../config/schema.js';
import { chapConfigFromAuth } from '../iscsi/chap.js';
import type { IscsiServer } from '../iscsi/iscsi-server.js';
import type { TargetNegotiationConfig } from '../iscsi/session-params.js';
import type { PortalAddress } from '../iscsi/target.js';

/** The iSCSI keys a target offers in login negotiation. */
export function negotiationFromConfig(c: Config['iscsi']): TargetNegotiationConfig {
  return {
    maxRecvDataSegmentLength: c.maxRecvDataSegmentLength,
    maxBurstLength: c.maxBurstLength,
    firstBurstLength: c.firstBurstLength,
    maxOutstandingR2T: c.maxOutstandingR2T,
    immediateData: c.immediateData,
    initialR2T: c.initialR2T,
    headerDigests: c.headerDigest,
    dataDigests: c.dataDigest,
    defaultTime2Wait: 2,
    defaultTime2Retain: 0,
  };
}

/** Server-wide iSCSI settings changed live: portals, negotiation for new logins, discovery CHAP. */
export class LiveSettings {
  constructor(private readonly iscsi: IscsiServer) {}

  addPortal(portal: PortalAddress): Promise<number> {
    return this.iscsi.addPortal(portal);
  }

  removePortal(portal: PortalAddress): Promise<void> {
    return this.iscsi.removePortal(portal);
  }

  /** Sessions logged in keep what they negotiated. */
  setNegotiation(iscsi: Config['iscsi']): void {
    this.iscsi.setNegotiation(negotiationFromConfig(iscsi));
  }

  setDiscoveryAuth(auth: AuthConfig): void {
    this.iscsi.setDiscoveryChap(chapConfigFromAuth(auth) ?? undefined);
  }
}
