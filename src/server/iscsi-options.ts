import type { Config } from '../config/schema.js';
import { chapConfigFromAuth } from '../iscsi/chap.js';
import type { IscsiServerOptions } from '../iscsi/iscsi-server.js';
import { negotiationFromConfig } from '../runtime/live-settings.js';

/** The iSCSI server's options from a validated config (seconds become milliseconds). */
export function iscsiServerOptions(config: Config): IscsiServerOptions {
  const c = config.iscsi;
  return {
    portals: c.portals,
    negotiation: negotiationFromConfig(c),
    connection: {
      nopInInterval: c.nopInInterval,
      nopInTimeout: c.nopInTimeout,
      // Stop reading a connection's new PDUs while this much of ours waits for the initiator.
      sendHighWater: Math.min(4 * 1024 * 1024, c.maxQueuedBytesPerConnection),
      deadlines: {
        firstPduMs: c.firstPduTimeout * 1000,
        pduMs: c.pduTimeout * 1000,
        sendStallMs: c.sendStallTimeout * 1000,
      },
    },
    discoveryChap: chapConfigFromAuth(config.discoveryAuth) ?? undefined,
    maxCmdWindow: c.maxCmdWindow,
    maxBufferedWriteBytes: c.maxBufferedWriteBytes,
    maxBufferedWriteBytesPerSession: c.maxBufferedWriteBytesPerSession,
    maxBufferedReadBytes: c.maxBufferedReadBytes,
    maxQueuedBytesPerConnection: c.maxQueuedBytesPerConnection,
    maxImmediateCommands: c.maxImmediateCommands,
    dataOutTimeoutMs: c.dataOutTimeout * 1000,
    admission: {
      maxConnections: c.maxConnections,
      maxPreLogin: c.maxPreLoginConnections,
      maxPreLoginPerAddress: c.maxPreLoginPerAddress,
    },
    loginTimeoutMs: c.loginTimeout * 1000,
    authThrottle: c.authThrottle,
  };
}
