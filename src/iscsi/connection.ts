import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SgVector } from '../block/sg.js';
import { PduFramer, type FramerFault } from './framer.js';
import { BHS_LENGTH, Op, RESERVED_TAG, RejectReason } from './opcodes.js';
import { encodeNopIn, encodeReject, opcodeOf, type InPdu } from './pdu.js';
import { pduPieces, type DigestSettings } from './serialize.js';
import { OutputBatch } from './output-batch.js';
import { withOwnedReads } from './owned-reads.js';
import { peerAddress, PeerWarnings } from './peer-warnings.js';
import { snAdd } from './serial.js';
import type { ConnectionLink, PduHandler, SequenceSource } from './connection-link.js';
import { Keepalive, type ConnectionTimers } from './keepalive.js';
import { Watchdog, type ConnectionDeadlines, type WatchedConnection } from './watchdog.js';
import { LogEvent } from '../shared/log-events.js';

export type { PduHandler, SequenceSource } from './connection-link.js';
export type { ConnectionDeadlines } from './watchdog.js';

export interface ConnectionOptions {
  /** Seconds between target NOP-In pings on a quiet full-feature connection; 0 = off. */
  nopInInterval: number;
  /** Seconds to wait for the initiator's answer to a ping before dropping the connection. */
  nopInTimeout: number;
  /** Pause reading when this many bytes wait in the socket's send buffer (backpressure). */
  sendHighWater: number;
  /** Timer functions, injectable so keepalive and the watchdog are tested without waiting. */
  timers?: ConnectionTimers;
  /** Deadlines for a peer that stalls (see ConnectionDeadlines); absent = none. */
  deadlines?: ConnectionDeadlines;
  /** Rate-limited warnings about what a peer did (shared by all connections). */
  warnings?: PeerWarnings;
  /** Clock for keepalive and the deadlines (ms). */
  now?: () => number;
}

const LOGIN_MAX_SEGMENT = 8192;
let nextConnectionId = 1;

/**
 * One TCP connection: frames incoming PDUs, stamps and sends outgoing ones with as few
 * syscalls as possible (cork per tick), owns StatSN and honours socket backpressure.
 * NOP-In keepalive (keepalive.ts) and the stall deadlines (watchdog.ts) ride on it.
 */
export class Connection implements ConnectionLink {
  readonly id = nextConnectionId++;
  readonly framer: PduFramer;
  private handler: PduHandler | undefined;
  private statSN = 0;
  private digests: DigestSettings = { headerDigest: false, dataDigest: false };
  private readonly out = new OutputBatch();
  private closed = false;
  private closeReason = '';
  private pausedForBackpressure = false;
  sequences: SequenceSource = { expCmdSN: 0, maxCmdSN: 0 };
  /** Source address of the peer, for per-peer limits and log rate limiting. */
  readonly peer: string;
  private readonly warnings: PeerWarnings;
  private readonly clock: () => number;
  readonly acceptedAt: number;
  private readonly keepalive: Keepalive;
  private readonly watchdog: Watchdog | undefined;
  /** Bytes handed to the socket so far (sent + still queued in it). */
  private queuedTotal = 0;
  loggedIn = false;
  /** The socket (for an accepted one, the socket that took over its handle: see owned-reads.ts). */
  readonly socket: Socket;

  constructor(
    accepted: Socket,
    readonly log: Logger,
    private readonly opts: ConnectionOptions,
  ) {
    const timers: ConnectionTimers = opts.timers ?? { setTimeout, clearTimeout };
    this.peer = peerAddress(accepted.remoteAddress);
    this.warnings = opts.warnings ?? new PeerWarnings(log);
    this.clock = opts.now ?? Date.now;
    this.acceptedAt = this.clock();
    this.framer = new PduFramer(
      { headerDigest: false, dataDigest: false, maxDataSegmentLength: LOGIN_MAX_SEGMENT },
      {
        onPdu: (pdu) => this.onPdu(pdu),
        onFault: (fault) => this.onFault(fault),
        landing: (bhs, length) => this.handler?.dataLanding?.(bhs, length),
      },
    );
    this.keepalive = new Keepalive({ intervalS: opts.nopInInterval, timeoutS: opts.nopInTimeout }, timers, this.clock, {
      ping: (ttt) => this.sendPing(ttt),
      unanswered: () => {
        this.warn({}, 'no answer to NOP-In; dropping connection');
        this.destroy('NOP-In timeout');
      },
    });
    const onChunk = (chunk: Buffer): void => {
      this.keepalive.received();
      this.framer.push(chunk);
    };
    // Reads into buffers of our own, so a landing payload is read straight into its pages.
    const owned = withOwnedReads(accepted, {
      onChunk,
      readTarget: () => this.framer.readTarget(),
      recycle: (slab) => this.framer.recycle(slab),
    });
    const socket = (this.socket = owned ?? accepted);
    if (!owned) {
      socket.on('data', onChunk);
      socket.resume(); // accepted paused (the portal's pauseOnConnect)
    }
    socket.setNoDelay(true);
    socket.on('drain', () => {
      if (this.pausedForBackpressure && !this.closed) {
        this.pausedForBackpressure = false;
        socket.resume();
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.log.debug({ err }, 'socket error');
      // The cause the close line gives: a reset is not an orderly close by the initiator.
      if (!this.closed) this.closeReason = `socket error ${err.code ?? err.message}`;
    });
    socket.on('close', () => {
      this.close(this.closeReason || 'closed by the initiator');
      this.framer.dispose(); // no read can land in a payload's pages any more
    });
    this.watchdog = opts.deadlines && new Watchdog(opts.deadlines, timers, this.clock, this.watched());
  }

  /** The connection's clock (ms; injectable for tests). */
  now(): number {
    return this.clock();
  }

  /** PDUs framed so far (0 until the first Login Request is complete). */
  get pdusReceived(): number {
    return this.framer.pdusFramed;
  }

  /** Bytes queued in the socket that the peer has not taken yet. */
  get unsentBytes(): number {
    return this.socket.writableLength + this.out.bytes;
  }

  /** A warning about what the peer did: rate-limited per source address, peer strings cut short. */
  warn(fields: Record<string, unknown>, message: string): void {
    this.warnings.warn(this.peer, { remote: this.remote, ...fields }, message);
  }

  get localAddress(): string {
    return this.socket.localAddress ?? '127.0.0.1';
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  get isClosed(): boolean {
    return this.closed;
  }

  setHandler(handler: PduHandler): void {
    this.handler = handler;
  }

  /** Digests and the receive limit take effect for the next PDU in each direction. */
  enterFullFeature(digests: DigestSettings, maxRecvDataSegmentLength: number): void {
    this.digests = digests;
    this.framer.update({ ...digests, maxDataSegmentLength: maxRecvDataSegmentLength });
    this.keepalive.schedule();
  }

  startStatSN(statSN: number): void {
    this.statSN = statSN >>> 0;
  }

  /** The StatSN for a response that carries status; advances the counter. */
  takeStatSN(): number {
    const sn = this.statSN;
    this.statSN = snAdd(sn, 1);
    return sn;
  }

  /** The current StatSN without advancing it (R2T, Data-In without status, NOP-In pings, Reject before status). */
  peekStatSN(): number {
    return this.statSN;
  }

  /** Queue one PDU. `onSent` runs when the socket has taken every byte (data pages may be released then). */
  send(bhs: Buffer, data?: SgVector | Buffer, onSent?: () => void): void {
    if (this.closed) {
      onSent?.();
      return;
    }
    if (this.out.pieces.length === 0) {
      // Flush after the poll phase: every response completed in this loop iteration
      // (several fs callbacks at a deep queue) leaves in one writev.
      setImmediate(this.flushOut);
    }
    const added = this.out.add(pduPieces(bhs, data, this.digests), onSent);
    this.queuedTotal += added;
  }

  /** Hand what send() queued to the socket, and stop reading while the peer does not take it. */
  private readonly flushOut = (): void => {
    if (this.out.pieces.length === 0) return;
    const ok = this.out.writeTo(this.socket);
    if (!ok && this.socket.writableLength > this.opts.sendHighWater && !this.pausedForBackpressure) {
      // Stop taking new commands until the initiator has read what we sent.
      this.pausedForBackpressure = true;
      this.socket.pause();
    }
  };

  /** A Reject carrying the offending BHS (RFC 7143 §11.17). */
  reject(reason: number, bhs: Buffer): void {
    this.warn({ reason, opcode: opcodeOf(bhs), itt: bhs.readUInt32BE(16) }, 'rejecting PDU');
    const rejected = Buffer.from(bhs.subarray(0, BHS_LENGTH));
    this.send(
      encodeReject({
        reason,
        statSN: this.takeStatSN(),
        expCmdSN: this.sequences.expCmdSN,
        maxCmdSN: this.sequences.maxCmdSN,
        dataSN: 0,
      }),
      rejected,
    );
  }

  /** Close after flushing what was queued. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.framer.stop();
    this.keepalive.stop();
    this.watchdog?.stop();
    this.log.info({ event: LogEvent.connectionClosed, remote: this.remote, reason, loggedIn: this.loggedIn }, 'connection closed');
    this.flushOut();
    this.socket.end();
    // Do not wait for a peer that never reads: destroy after a grace period.
    const t = setTimeout(() => this.socket.destroy(), 2000);
    t.unref();
    this.handler?.onConnectionClosed(reason);
  }

  /** Immediate teardown, e.g. a reinstated session or a fatal fault. */
  destroy(reason: string): void {
    if (!this.closed) this.close(reason);
    this.socket.destroy();
  }

  private onPdu(pdu: InPdu): void {
    const op = opcodeOf(pdu.bhs);
    // The answer to our ping carries our TTT; it is keepalive's, not the handler's.
    if (op === Op.NOP_OUT && this.keepalive.takeAnswer(pdu.bhs.readUInt32BE(20))) return;
    if (!this.handler) return;
    try {
      this.handler.handlePdu(pdu);
    } catch (err) {
      this.log.error({ err, opcode: op }, 'PDU handler failed; closing connection');
      this.destroy('internal error');
    }
  }

  private onFault(fault: FramerFault): void {
    switch (fault.kind) {
      case 'dataDigest':
        // The PDU is lost; the initiator learns it from the Reject (RFC 7143 §7.8).
        this.reject(RejectReason.DATA_DIGEST_ERROR, fault.bhs);
        this.handler?.onDataDigestError?.(fault.bhs);
        return;
      case 'headerDigest':
        this.warn({}, 'header digest error; dropping connection');
        this.destroy('header digest error');
        return;
      case 'dataSegmentTooLong':
        this.warn({ length: fault.length, max: fault.max }, 'data segment longer than negotiated');
        if (!this.handler?.onOversizedPdu?.(fault.bhs, fault.length, fault.max)) this.reject(RejectReason.PROTOCOL_ERROR, fault.bhs);
        this.close('data segment too long');
        return;
    }
  }

  private sendPing(ttt: number): void {
    this.send(
      encodeNopIn({
        lun: 0,
        itt: RESERVED_TAG,
        ttt,
        statSN: this.peekStatSN(),
        expCmdSN: this.sequences.expCmdSN,
        maxCmdSN: this.sequences.maxCmdSN,
        dataLength: 0,
      }),
    );
  }

  /** The watchdog's view of this connection. */
  private watched(): WatchedConnection {
    return {
      acceptedAt: this.acceptedAt,
      sample: () => ({
        loggedIn: this.loggedIn,
        pdusFramed: this.framer.pdusFramed,
        midPdu: this.framer.midPdu,
        queuedTotal: this.queuedTotal,
        unsentBytes: this.unsentBytes,
      }),
      drop: (reason, fields, warning) => {
        this.warn(fields, warning);
        this.destroy(reason);
      },
      tick: (now) => {
        try {
          this.handler?.onTick?.(now);
        } catch (err) {
          this.log.error({ err }, 'deadline check failed; closing connection');
          this.destroy('internal error');
        }
      },
    };
  }
}
