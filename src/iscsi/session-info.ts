/**
 * A read-only snapshot of one logged-in session for the admin plane: identity, connection,
 * negotiated parameters and counters, as plain data (nothing of the session escapes).
 */
import type { Session } from './session.js';
import type { SessionParams } from './session-params.js';

export interface ConnectionInfo {
  readonly cid: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly headerDigest: 'CRC32C' | 'None';
  readonly dataDigest: 'CRC32C' | 'None';
}

export interface SessionInfo {
  readonly tsih: number;
  readonly initiatorName: string;
  readonly initiatorAlias: string | undefined;
  /** ISID as 12 hex digits. */
  readonly isid: string;
  /** Target IQN; undefined for a discovery session. */
  readonly target: string | undefined;
  readonly sessionType: 'Normal' | 'Discovery';
  readonly sourceAddress: string;
  readonly sourcePort: number;
  /** Milliseconds since the epoch when the login completed. */
  readonly loggedInAt: number;
  readonly connections: readonly ConnectionInfo[];
  readonly params: SessionParams;
  readonly counters: { readonly commands: number; readonly readBytes: number; readonly writtenBytes: number };
  /** Commands the session holds now. */
  readonly tasksInFlight: number;
}

export function sessionInfo(session: Session): SessionInfo {
  const { outcome, conn, params, counters } = session;
  return {
    tsih: session.tsih,
    initiatorName: outcome.initiatorName,
    initiatorAlias: outcome.initiatorAlias,
    isid: outcome.isid.toString('hex'),
    target: outcome.target?.iqn,
    sessionType: outcome.sessionType,
    sourceAddress: conn.remoteAddress,
    sourcePort: conn.remotePort,
    loggedInAt: session.createdAt,
    connections: [
      {
        cid: outcome.cid,
        localAddress: conn.localAddress,
        localPort: conn.localPort,
        remoteAddress: conn.remoteAddress,
        remotePort: conn.remotePort,
        headerDigest: params.headerDigest ? 'CRC32C' : 'None',
        dataDigest: params.dataDigest ? 'CRC32C' : 'None',
      },
    ],
    params: { ...params },
    counters: { commands: counters.commands, readBytes: counters.readBytes, writtenBytes: counters.writtenBytes },
    tasksInFlight: session.tasks.size,
  };
}
