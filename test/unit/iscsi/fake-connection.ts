/**
 * A connection without a socket, for unit tests of the login phase and of sessions: it records
 * every PDU the target sends (decoded enough to assert on), numbers StatSN as the real one does,
 * and hands PDUs to whatever handler the code under test installs.
 */
import { SgVector } from '../../../src/block/sg.js';
import type { ConnectionLink, PduHandler, SequenceSource } from '../../../src/iscsi/connection-link.js';
import { Op } from '../../../src/iscsi/opcodes.js';
import { opcodeOf, type InPdu } from '../../../src/iscsi/pdu.js';
import type { DigestSettings } from '../../../src/iscsi/serialize.js';

export interface SentPdu {
  readonly bhs: Buffer;
  readonly data: Buffer;
  readonly opcode: number;
}

export class FakeConnection implements ConnectionLink {
  readonly sent: SentPdu[] = [];
  /** Reject reasons sent, in order. */
  readonly rejects: number[] = [];
  readonly warnings: string[] = [];
  handler: PduHandler | undefined;
  closedWith: string | undefined;
  fullFeature: { digests: DigestSettings; maxRecvDataSegmentLength: number } | undefined;
  sequences: SequenceSource = { expCmdSN: 0, maxCmdSN: 0 };
  clock = 0;
  private statSN = 0;
  private waiters: { match: (p: SentPdu) => boolean; resolve: (p: SentPdu) => void }[] = [];

  constructor(
    readonly remoteAddress = '192.0.2.10',
    readonly localAddress = '192.0.2.1',
  ) {}

  readonly remotePort = 40000;
  readonly localPort = 3260;

  get remote(): string {
    return `${this.remoteAddress}:${this.remotePort}`;
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  send(bhs: Buffer, data?: SgVector | Buffer, onSent?: () => void): void {
    const bytes = data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(data) ? Buffer.from(data) : data.toBuffer();
    const pdu = { bhs: Buffer.from(bhs), data: bytes, opcode: opcodeOf(bhs) };
    if (this.isClosed) {
      onSent?.();
      return;
    }
    this.sent.push(pdu);
    onSent?.();
    for (const w of [...this.waiters]) {
      if (w.match(pdu)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(pdu);
      }
    }
  }

  reject(reason: number, bhs: Buffer): void {
    this.rejects.push(reason);
    const bhsOut = Buffer.alloc(48);
    bhsOut[0] = Op.REJECT;
    bhsOut[2] = reason;
    bhsOut.writeUInt32BE(this.takeStatSN(), 24);
    this.send(bhsOut, Buffer.from(bhs.subarray(0, 48)));
  }

  startStatSN(statSN: number): void {
    this.statSN = statSN >>> 0;
  }

  takeStatSN(): number {
    const sn = this.statSN;
    this.statSN = (sn + 1) >>> 0;
    return sn;
  }

  peekStatSN(): number {
    return this.statSN;
  }

  now(): number {
    return this.clock;
  }

  warn(_fields: Record<string, unknown>, message: string): void {
    this.warnings.push(message);
  }

  close(reason: string): void {
    if (this.isClosed) return;
    this.closedWith = reason;
    this.handler?.onConnectionClosed(reason);
  }

  destroy(reason: string): void {
    this.close(reason);
  }

  setHandler(handler: PduHandler): void {
    this.handler = handler;
  }

  enterFullFeature(digests: DigestSettings, maxRecvDataSegmentLength: number): void {
    this.fullFeature = { digests, maxRecvDataSegmentLength };
  }

  /** Deliver a PDU from the initiator to the current handler. */
  receive(bhs: Buffer, data?: Buffer): void {
    const pdu: InPdu = { bhs, ahs: Buffer.alloc(0), data: new SgVector(data && data.length > 0 ? [data] : []) };
    this.handler?.handlePdu(pdu);
  }

  /** The PDUs sent with this opcode. */
  sentOf(opcode: number): SentPdu[] {
    return this.sent.filter((p) => p.opcode === opcode);
  }

  /** Resolves with the first PDU (already sent or still to come) that matches. */
  next(match: (p: SentPdu) => boolean): Promise<SentPdu> {
    const already = this.sent.find(match);
    if (already) return Promise.resolve(already);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}
