import type { SgVector } from '../block/sg.js';
import type { PayloadLanding } from './framer.js';
import type { InPdu } from './pdu.js';
import type { DigestSettings } from './serialize.js';

/** What handles PDUs on a connection: the login phase first, then a session's full feature phase. */
export interface PduHandler {
  handlePdu(pdu: InPdu): void;
  /** A data digest error dropped a PDU (already rejected by the connection). */
  onDataDigestError?(bhs: Buffer): void;
  /** The connection is gone (socket closed, fatal protocol error, NOP timeout). */
  onConnectionClosed(reason: string): void;
  /** A PDU longer than the receive limit arrived; true if the handler answered it (the login does). */
  onOversizedPdu?(bhs: Buffer, length: number, max: number): boolean;
  /** The connection's watchdog ticked (`now` in ms): time out what waits for the initiator. */
  onTick?(now: number): void;
  /** Memory of its own to receive the payload of the Data-Out whose header is `bhs` into (framer.ts), if any. */
  dataLanding?(bhs: Buffer, length: number): PayloadLanding | undefined;
}

/** Numbers the connection stamps on every target PDU. */
export interface SequenceSource {
  readonly expCmdSN: number;
  readonly maxCmdSN: number;
}

/**
 * One connection as the login phase and a session see it: sending PDUs, StatSN, closing, the clock
 * and rate-limited peer warnings. `Connection` implements it over a socket; unit tests use a fake.
 */
export interface ConnectionLink {
  /** Queue one PDU. `onSent` runs when the transport has taken every byte (data pages may go back then). */
  send(bhs: Buffer, data?: SgVector | Buffer, onSent?: () => void): void;
  /** A Reject carrying the offending BHS (RFC 7143 §11.17); takes a StatSN. */
  reject(reason: number, bhs: Buffer): void;
  /** The first StatSN of full feature phase (the login's ExpStatSN). */
  startStatSN(statSN: number): void;
  /** The StatSN for a response that carries status; advances the counter. */
  takeStatSN(): number;
  /** The current StatSN without advancing it (R2T, Data-In without status). */
  peekStatSN(): number;
  /** Where ExpCmdSN / MaxCmdSN for PDUs the connection sends by itself (Reject, NOP-In) come from. */
  sequences: SequenceSource;
  /** The connection's clock (ms). */
  now(): number;
  /** A warning about what the peer did: rate-limited per source address. */
  warn(fields: Record<string, unknown>, message: string): void;
  readonly isClosed: boolean;
  /** Close after flushing what was queued. */
  close(reason: string): void;
  /** Immediate teardown. */
  destroy(reason: string): void;
  /** Who gets the PDUs from now on. */
  setHandler(handler: PduHandler): void;
  /** Digests and the receive limit take effect for the next PDU in each direction; keepalive starts. */
  enterFullFeature(digests: DigestSettings, maxRecvDataSegmentLength: number): void;
  /** "address:port" of the peer, for logs. */
  readonly remote: string;
  /** The peer's address as the socket reports it (per-address throttles). */
  readonly remoteAddress: string;
  /** The local address the peer connected to (SendTargets on a wildcard portal). */
  readonly localAddress: string;
  readonly localPort: number;
  readonly remotePort: number;
}
