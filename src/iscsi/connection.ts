import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SgVector } from '../block/sg.js';
import { PduFramer, type FramerFault } from './framer.js';
import { BHS_LENGTH, Op, RejectReason } from './opcodes.js';
import { encodeNopIn, encodeReject, opcodeOf, type InPdu } from './pdu.js';
import { pduPieces, type DigestSettings } from './serialize.js';
import { peerAddress, PeerWarnings } from './peer-warnings.js';
import { snAdd } from './serial.js';

/** What handles PDUs on a connection: the login phase first, then a session's full feature phase. */
export interface PduHandler {
  handlePdu(pdu: InPdu): void;
  /** A data digest error dropped a PDU (already rejected by the connection). */
  onDataDigestError?(bhs: Buffer): void;
  /** The connection is gone (socket closed, fatal protocol error, NOP timeout). */
  onConnectionClosed(reason: string): void;
  /** The connection's watchdog ticked (`now` in ms): time out what waits for the initiator. */
  onTick?(now: number): void;
}

/** Numbers the connection stamps on every target PDU. */
export interface SequenceSource {
  readonly expCmdSN: number;
  readonly maxCmdSN: number;
}

export interface ConnectionOptions {
  /** Seconds between target NOP-In pings on a quiet full-feature connection; 0 = off. */
  nopInInterval: number;
  /** Seconds to wait for the initiator's answer to a ping before dropping the connection. */
  nopInTimeout: number;
  /** Pause reading when this many bytes wait in the socket's send buffer (backpressure). */
  sendHighWater: number;
  /** Timer functions, injectable so keepalive is tested without waiting. */
  timers?: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout };
  /** Deadlines for a peer that stalls (see ConnectionDeadlines); absent = none. */
  deadlines?: ConnectionDeadlines;
  /** Rate-limited warnings about what a peer did (shared by all connections). */
  warnings?: PeerWarnings;
  /** Clock for the deadlines (ms). */
  now?: () => number;
}

/** How long the target waits for a peer before it drops the connection (ms). */
export interface ConnectionDeadlines {
  /** From accept to the first complete PDU (a Login Request). */
  readonly firstPduMs: number;
  /** From the first byte of a PDU to its last. */
  readonly pduMs: number;
  /** While PDUs we queued make no progress into the peer's socket. */
  readonly sendStallMs: number;
  /** Finest deadline the handler needs in onTick (e.g. the Data-Out timeout); sets the tick period. */
  readonly handlerMs?: number;
}

const LOGIN_MAX_SEGMENT = 8192;
let nextConnectionId = 1;

/**
 * One TCP connection: frames incoming PDUs, stamps and sends outgoing ones with as few
 * syscalls as possible (cork per tick), owns StatSN, honours socket backpressure, and
 * keeps the link alive with NOP-In pings.
 */
export class Connection {
  readonly id = nextConnectionId++;
  readonly framer: PduFramer;
  private handler: PduHandler | undefined;
  private statSN = 0;
  private digests: DigestSettings = { headerDigest: false, dataDigest: false };
  private corked = false;
  private closed = false;
  private closeReason = '';
  private lastReceive = Date.now();
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTtt = 0;
  private pingOutstanding: number | undefined;
  private pausedForBackpressure = false;
  private readonly timers: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout };
  sequences: SequenceSource = { expCmdSN: 0, maxCmdSN: 0 };
  /** Source address of the peer, for per-peer limits and log rate limiting. */
  readonly peer: string;
  private readonly warnings: PeerWarnings;
  private readonly clock: () => number;
  readonly acceptedAt: number;
  private watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  private watch = { pdus: 0, partialSince: undefined as number | undefined, sent: 0, stallSince: undefined as number | undefined };
  /** Bytes handed to the socket so far (sent + still queued in it). */
  private queuedTotal = 0;
  loggedIn = false;

  constructor(
    readonly socket: Socket,
    readonly log: Logger,
    private readonly opts: ConnectionOptions,
  ) {
    this.timers = opts.timers ?? { setTimeout, clearTimeout };
    this.peer = peerAddress(socket.remoteAddress);
    this.warnings = opts.warnings ?? new PeerWarnings(log);
    this.clock = opts.now ?? Date.now;
    this.acceptedAt = this.clock();
    this.framer = new PduFramer(
      { headerDigest: false, dataDigest: false, maxDataSegmentLength: LOGIN_MAX_SEGMENT },
      { onPdu: (pdu) => this.onPdu(pdu), onFault: (fault) => this.onFault(fault) },
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.lastReceive = Date.now();
      this.framer.push(chunk);
    });
    socket.on('drain', () => {
      if (this.pausedForBackpressure) {
        this.pausedForBackpressure = false;
        socket.resume();
      }
    });
    socket.on('error', (err) => this.log.debug({ err }, 'socket error'));
    socket.on('close', () => this.close(this.closeReason || 'socket closed'));
    this.scheduleWatchdog();
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
    return this.socket.writableLength;
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
    this.schedulePing();
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
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      // Uncork after the poll phase: every response completed in this loop iteration
      // (several fs callbacks at a deep queue) leaves in one writev.
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    const pieces = pduPieces(bhs, data, this.digests);
    const last = pieces.length - 1;
    let ok = true;
    for (const piece of pieces) this.queuedTotal += piece.length;
    for (let i = 0; i < last; i++) ok = this.socket.write(pieces[i]!) && ok;
    ok = this.socket.write(pieces[last]!, onSent ? () => onSent() : undefined) && ok;
    if (!ok && this.socket.writableLength > this.opts.sendHighWater && !this.pausedForBackpressure) {
      // Stop taking new commands until the initiator has read what we sent.
      this.pausedForBackpressure = true;
      this.socket.pause();
    }
  }

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
    if (this.pingTimer) this.timers.clearTimeout(this.pingTimer);
    if (this.watchdogTimer) this.timers.clearTimeout(this.watchdogTimer);
    this.log.info({ remote: this.remote, reason }, 'connection closed');
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
    if (op === Op.NOP_OUT && this.pingOutstanding !== undefined && pdu.bhs.readUInt32BE(20) === this.pingOutstanding) {
      // The answer to our ping: it carries ITT 0xffffffff and our TTT.
      this.pingOutstanding = undefined;
      this.schedulePing();
      return;
    }
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
        this.reject(RejectReason.PROTOCOL_ERROR, fault.bhs);
        this.close('data segment too long');
        return;
    }
  }

  /** Keepalive: after `nopInInterval` s without traffic, ping; no answer in `nopInTimeout` s drops the link. */
  private schedulePing(): void {
    if (this.pingTimer) this.timers.clearTimeout(this.pingTimer);
    if (this.closed || this.opts.nopInInterval <= 0) return;
    const interval = this.opts.nopInInterval * 1000;
    this.pingTimer = this.timers.setTimeout(() => {
      const idle = Date.now() - this.lastReceive;
      if (idle < interval) {
        this.pingTimer = this.timers.setTimeout(() => this.schedulePing(), interval - idle);
        return;
      }
      this.sendPing();
    }, interval);
    this.pingTimer.unref?.();
  }

  private sendPing(): void {
    this.pingTtt = (this.pingTtt + 1) & 0x7fffffff;
    this.pingOutstanding = this.pingTtt;
    this.send(
      encodeNopIn({
        lun: 0,
        itt: 0xffffffff,
        ttt: this.pingTtt,
        statSN: this.peekStatSN(),
        expCmdSN: this.sequences.expCmdSN,
        maxCmdSN: this.sequences.maxCmdSN,
        dataLength: 0,
      }),
    );
    this.pingTimer = this.timers.setTimeout(() => {
      if (this.pingOutstanding !== undefined) {
        this.warn({}, 'no answer to NOP-In; dropping connection');
        this.destroy('NOP-In timeout');
      }
    }, this.opts.nopInTimeout * 1000);
    this.pingTimer.unref?.();
  }

  /**
   * One periodic check for a peer that stalls (cheaper than a timer per PDU): no Login Request soon
   * after accept, a PDU that started but does not finish (slow-loris), our queued PDUs not taken for
   * too long (a peer that stopped reading). The handler's own deadlines (Data-Out) ride on the tick.
   */
  private scheduleWatchdog(): void {
    const d = this.opts.deadlines;
    if (!d || this.closed) return;
    const finest = Math.min(d.firstPduMs, d.pduMs, d.sendStallMs, d.handlerMs ?? Infinity);
    const period = Math.max(20, Math.min(1000, finest / 4));
    this.watchdogTimer = this.timers.setTimeout(() => {
      this.watchdogTick(d);
      this.scheduleWatchdog();
    }, period);
    this.watchdogTimer.unref?.();
  }

  private watchdogTick(d: ConnectionDeadlines): void {
    const now = this.clock();
    const pdus = this.framer.pdusFramed;
    if (pdus === 0 && !this.loggedIn && now - this.acceptedAt >= d.firstPduMs) {
      this.warn({ waitedMs: now - this.acceptedAt }, 'no Login Request in time; dropping connection');
      this.destroy('no login request in time');
      return;
    }
    const w = this.watch;
    if (!this.framer.midPdu) w.partialSince = undefined;
    else if (pdus !== w.pdus || w.partialSince === undefined) w.partialSince = now;
    else if (now - w.partialSince >= d.pduMs) {
      this.warn({ waitedMs: now - w.partialSince }, 'PDU not completed in time; dropping connection');
      this.destroy('PDU not completed in time');
      return;
    }
    w.pdus = pdus;
    const unsent = this.socket.writableLength;
    const sent = this.queuedTotal - unsent;
    if (unsent === 0 || sent !== w.sent) w.stallSince = undefined;
    else if (w.stallSince === undefined) w.stallSince = now;
    else if (now - w.stallSince >= d.sendStallMs) {
      this.warn({ unsent, waitedMs: now - w.stallSince }, 'initiator stopped reading; dropping connection');
      this.destroy('initiator stopped reading');
      return;
    }
    w.sent = sent;
    try {
      this.handler?.onTick?.(now);
    } catch (err) {
      this.log.error({ err }, 'deadline check failed; closing connection');
      this.destroy('internal error');
    }
  }
}
