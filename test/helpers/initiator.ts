/**
 * A small iSCSI initiator for integration tests: real TCP, real PDUs, enough of
 * RFC 7143 to log in (with CHAP and digests), run SCSI commands with immediate,
 * unsolicited and solicited data, and drive NOP, TMF, Text and Logout.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { PduFramer } from '../../src/iscsi/framer.js';
import { Op } from '../../src/iscsi/opcodes.js';
import { dataSegmentLength, opcodeOf, type InPdu } from '../../src/iscsi/pdu.js';
import { pduPieces, type DigestSettings } from '../../src/iscsi/serialize.js';
import { encodeTextPairs, parseTextData } from '../../src/iscsi/text.js';
import * as P from './initiator-pdus.js';
import { within } from './wait.js';

export interface ChapOptions {
  user: string;
  secret: string;
  algorithms?: number[];
  /** Ask the target to authenticate itself too. */
  mutual?: { user: string; secret: string };
}

export interface LoginOptions {
  targetName?: string;
  sessionType?: 'Normal' | 'Discovery';
  initiatorName?: string;
  /** Sent with InitiatorName in the first Login Request. */
  initiatorAlias?: string;
  isid?: Buffer;
  tsih?: number;
  /** Operational keys to offer (in addition to the digests). */
  keys?: [string, string][];
  headerDigest?: boolean;
  dataDigest?: boolean;
  chap?: ChapOptions;
  /** AuthMethod list to offer (default CHAP,None with chap, None without). */
  authMethod?: string;
}

export interface LoginResult {
  status: [number, number];
  keys: Map<string, string>;
  tsih: number;
}

export interface CommandOptions {
  lun?: number;
  cdb: Buffer;
  /** Expected data-in length for reads. */
  read?: number;
  /** Payload for writes. */
  write?: Buffer;
  /** Override EDTL (defaults to read length or write payload length). */
  edtl?: number;
  attr?: number;
  immediate?: boolean;
  /** Do not send the data the target asks for (to test aborts). */
  holdData?: boolean;
}

export interface CommandResult {
  status: number;
  sense?: Buffer;
  data: Buffer;
  /** The U/O flags and count of the response. */
  underflow: boolean;
  overflow: boolean;
  residual: number;
  dataInPdus: number;
  dataInLengths: number[];
  r2ts: { offset: number; length: number }[];
  itt: number;
  cmdSN: number;
}

interface Pending {
  resolve(pdu: InPdu): void;
  reject(err: Error): void;
  onIntermediate?(pdu: InPdu): void;
}

const DEFAULT_INITIATOR = 'iqn.2026-11.io.scatter.test:initiator';

function chapHash(alg: number): string {
  return alg === 5 ? 'md5' : alg === 6 ? 'sha1' : alg === 7 ? 'sha256' : 'sha3-256';
}

function decodeBinary(v: string): Buffer {
  if (v.startsWith('0x') || v.startsWith('0X')) return Buffer.from(v.slice(2), 'hex');
  if (v.startsWith('0b') || v.startsWith('0B')) return Buffer.from(v.slice(2), 'base64');
  throw new Error(`bad CHAP value ${v}`);
}

export class TestInitiator {
  private readonly framer: PduFramer;
  private digests: DigestSettings = { headerDigest: false, dataDigest: false };
  private readonly pending = new Map<number, Pending>();
  private readonly waiters: { match(p: InPdu): boolean; resolve(p: InPdu): void }[] = [];
  private readonly watchers: { match(bhs: Buffer): boolean; resolve(bhs: Buffer): void }[] = [];
  readonly unsolicited: InPdu[] = [];
  /**
   * A copy of the BHS of every PDU received, in order: what did or did not arrive, asserted after
   * a barrier (a later answer on the same connection) instead of after a guessed wait.
   */
  readonly received: Buffer[] = [];
  private nextItt = 1;
  cmdSN = 1;
  expStatSN = 0;
  maxCmdSN = 1;
  isid: Buffer = Buffer.from([0x80, 0x12, 0x34, 0x56, 0x00, 0x01]);
  tsih = 0;
  /** Negotiated as the target answered. */
  params = {
    immediateData: true,
    initialR2T: true,
    firstBurstLength: 65536,
    maxBurstLength: 262144,
    targetMaxRecv: 8192,
  };
  answerPings = true;
  closed = false;
  private closeWaiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    this.framer = new PduFramer(
      { headerDigest: false, dataDigest: false, maxDataSegmentLength: 16 * 1024 * 1024 },
      {
        onPdu: (p) => this.onPdu(p),
        onFault: (f) => {
          this.socket.destroy(new Error(`framing fault ${f.kind}`));
        },
      },
    );
    socket.on('data', (c: Buffer) => this.framer.push(c));
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new Error('connection closed'));
      this.pending.clear();
      for (const w of this.closeWaiters) w();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TestInitiator> {
    return TestInitiator.connectFrom(port, undefined, host);
  }

  /** Connect with a chosen source address (any of 127.0.0.0/8 on loopback). */
  static connectFrom(port: number, localAddress: string | undefined, host = '127.0.0.1'): Promise<TestInitiator> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, localAddress }, () => {
        s.setNoDelay(true);
        resolve(new TestInitiator(s));
      });
      s.once('error', reject);
    });
  }

  /** Resolves when the target closes the connection. */
  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  allocItt(): number {
    return this.nextItt++;
  }

  send(bhs: Buffer, data?: Buffer, ahs?: Buffer): void {
    const pieces = pduPieces(bhs, data, this.digests);
    if (ahs) {
      // AHS sits between the BHS and the header digest; rebuild with the digest over both.
      const head = Buffer.concat([bhs, ahs]);
      const rest = pduPieces(bhs, data, { ...this.digests, headerDigest: false }).slice(1);
      const parts: Buffer[] = [head];
      if (this.digests.headerDigest) {
        const crc = pduPieces(head, undefined, { headerDigest: true, dataDigest: false })[1]!;
        parts.push(crc);
      }
      this.socket.write(Buffer.concat([...parts, ...rest]));
      return;
    }
    this.socket.write(Buffer.concat(pieces));
  }

  /** Raw bytes, for malformed-PDU tests. */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Wait for the next PDU the predicate accepts (among those not claimed by a pending request). */
  waitFor(match: (p: InPdu) => boolean, timeoutMs = 5000): Promise<InPdu> {
    const i = this.unsolicited.findIndex(match);
    if (i >= 0) return Promise.resolve(this.unsolicited.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for a PDU')), timeoutMs);
      this.waiters.push({
        match,
        resolve: (p) => {
          clearTimeout(t);
          resolve(p);
        },
      });
    });
  }

  /** Resolves with the BHS of the first PDU received, before or after this call, that `match` accepts. */
  arrival(match: (bhs: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return within(new Promise<Buffer>((resolve) => this.watchers.push({ match, resolve })), timeoutMs, 'the awaited PDU');
  }

  /** The R2T the target sent for `itt` (it holds the task and waits for data). */
  r2tFor(itt: number, timeoutMs = 5000): Promise<Buffer> {
    return this.arrival((b) => opcodeOf(b) === Op.R2T && b.readUInt32BE(16) === itt, timeoutMs);
  }

  /** Headers received for `itt` that answer it (anything but an R2T). */
  answersTo(itt: number): Buffer[] {
    return this.received.filter((b) => b.readUInt32BE(16) === itt && opcodeOf(b) !== Op.R2T);
  }

  /** NOP-In pings (ITT 0xffffffff) received so far. */
  get pingsReceived(): number {
    return this.received.filter((b) => opcodeOf(b) === Op.NOP_IN && b.readUInt32BE(16) === 0xffffffff).length;
  }

  private onPdu(p: InPdu): void {
    const head = Buffer.from(p.bhs);
    this.received.push(head);
    for (let k = this.watchers.length - 1; k >= 0; k--) {
      const w = this.watchers[k]!;
      if (w.match(head)) {
        this.watchers.splice(k, 1);
        w.resolve(head);
      }
    }
    const op = opcodeOf(p.bhs);
    if (op !== Op.R2T && op !== Op.DATA_IN) this.trackSn(p.bhs);
    else this.trackWindow(p.bhs);
    if (op === Op.DATA_IN && (p.bhs[1]! & 0x01) !== 0) this.trackStat(p.bhs);
    if (op === Op.NOP_IN && p.bhs.readUInt32BE(16) === 0xffffffff) {
      if (this.answerPings) {
        this.send(
          P.nopOut({ immediate: true, itt: 0xffffffff, ttt: p.bhs.readUInt32BE(20), cmdSN: this.cmdSN, expStatSN: this.expStatSN, dataLength: 0 }),
        );
      }
      this.deliverUnsolicited(p);
      return;
    }
    const itt = p.bhs.readUInt32BE(16);
    const pending = this.pending.get(itt);
    if (pending) {
      const final =
        op === Op.SCSI_RSP ||
        op === Op.LOGIN_RSP ||
        op === Op.TMF_RSP ||
        op === Op.LOGOUT_RSP ||
        op === Op.NOP_IN ||
        op === Op.TEXT_RSP ||
        (op === Op.DATA_IN && (p.bhs[1]! & 0x01) !== 0);
      if (final) {
        this.pending.delete(itt);
        pending.resolve(p);
      } else pending.onIntermediate?.(p);
      return;
    }
    this.deliverUnsolicited(p);
  }

  private deliverUnsolicited(p: InPdu): void {
    const i = this.waiters.findIndex((w) => w.match(p));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(p);
    else this.unsolicited.push(p);
  }

  private trackStat(bhs: Buffer): void {
    const statSN = bhs.readUInt32BE(24);
    this.expStatSN = (statSN + 1) >>> 0;
  }

  private trackWindow(bhs: Buffer): void {
    this.maxCmdSN = bhs.readUInt32BE(32);
  }

  private trackSn(bhs: Buffer): void {
    const op = opcodeOf(bhs);
    const pingNop = op === Op.NOP_IN && bhs.readUInt32BE(20) !== 0xffffffff;
    if (op !== Op.R2T && !pingNop) this.trackStat(bhs);
    this.trackWindow(bhs);
  }

  /** Send a request and wait for its final answer (same ITT). */
  request(itt: number, send: () => void, onIntermediate?: (p: InPdu) => void, timeoutMs = 10000): Promise<InPdu> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(itt);
        reject(new Error(`no answer for ITT ${itt}`));
      }, timeoutMs);
      this.pending.set(itt, {
        resolve: (p) => {
          clearTimeout(t);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
        onIntermediate,
      });
      send();
    });
  }

  // ------------------------------------------------------------------ login

  private async loginStep(
    itt: number,
    f: { transit: boolean; csg: number; nsg: number; cont?: boolean },
    pairs: [string, string][],
  ): Promise<{ pdu: InPdu; keys: Map<string, string>; status: [number, number] }> {
    const data = encodeTextPairs(pairs);
    const pdu = await this.request(itt, () =>
      this.send(
        P.loginRequest({ ...f, isid: this.isid, tsih: this.tsih, itt, cid: 0, cmdSN: this.cmdSN, expStatSN: this.expStatSN, dataLength: data.length }),
        data,
      ),
    );
    const keys = new Map(parseTextData(pdu.data.toBuffer()).pairs);
    return { pdu, keys, status: [pdu.bhs[36]!, pdu.bhs[37]!] };
  }

  async login(opts: LoginOptions = {}): Promise<LoginResult> {
    if (opts.isid) this.isid = opts.isid;
    if (opts.tsih !== undefined) this.tsih = opts.tsih;
    const itt = this.allocItt();
    const type = opts.sessionType ?? 'Normal';
    const all = new Map<string, string>();
    const first: [string, string][] = [
      ['InitiatorName', opts.initiatorName ?? DEFAULT_INITIATOR],
      ['SessionType', type],
    ];
    if (opts.initiatorAlias !== undefined) first.push(['InitiatorAlias', opts.initiatorAlias]);
    if (type === 'Normal' && opts.targetName) first.push(['TargetName', opts.targetName]);
    first.push(['AuthMethod', opts.authMethod ?? (opts.chap ? 'CHAP,None' : 'None')]);

    let r = await this.loginStep(itt, { transit: !opts.chap, csg: 0, nsg: 1 }, first);
    r.keys.forEach((v, k) => all.set(k, v));
    if (r.status[0] !== 0) return { status: r.status, keys: all, tsih: 0 };

    if (opts.chap && r.keys.get('AuthMethod') === 'CHAP') {
      r = await this.loginStep(itt, { transit: false, csg: 0, nsg: 1 }, [['CHAP_A', (opts.chap.algorithms ?? [5]).join(',')]]);
      r.keys.forEach((v, k) => all.set(k, v));
      if (r.status[0] !== 0) return { status: r.status, keys: all, tsih: 0 };
      const alg = Number(r.keys.get('CHAP_A'));
      const id = Number(r.keys.get('CHAP_I'));
      const challenge = decodeBinary(r.keys.get('CHAP_C')!);
      const resp = createHash(chapHash(alg)).update(Buffer.from([id])).update(opts.chap.secret).update(challenge).digest();
      const answer: [string, string][] = [
        ['CHAP_N', opts.chap.user],
        ['CHAP_R', `0x${resp.toString('hex')}`],
      ];
      let myId = 0;
      let myChallenge = Buffer.alloc(0);
      if (opts.chap.mutual) {
        myId = randomBytes(1)[0]!;
        myChallenge = randomBytes(16);
        answer.push(['CHAP_I', String(myId)], ['CHAP_C', `0x${myChallenge.toString('hex')}`]);
      }
      r = await this.loginStep(itt, { transit: true, csg: 0, nsg: 1 }, answer);
      r.keys.forEach((v, k) => all.set(k, v));
      if (r.status[0] !== 0) return { status: r.status, keys: all, tsih: 0 };
      if (opts.chap.mutual) {
        const expected = createHash(chapHash(alg)).update(Buffer.from([myId])).update(opts.chap.mutual.secret).update(myChallenge).digest();
        const got = r.keys.get('CHAP_R');
        if (r.keys.get('CHAP_N') !== opts.chap.mutual.user || !got || !decodeBinary(got).equals(expected)) {
          this.socket.destroy();
          throw new Error('target failed mutual CHAP');
        }
      }
    }

    // Operational stage, then full feature phase.
    const ops: [string, string][] = [
      ['HeaderDigest', opts.headerDigest ? 'CRC32C' : 'None'],
      ['DataDigest', opts.dataDigest ? 'CRC32C' : 'None'],
      ...(opts.keys ?? (type === 'Normal' ? [['MaxRecvDataSegmentLength', '262144'] as [string, string]] : [])),
    ];
    r = await this.loginStep(itt, { transit: true, csg: 1, nsg: 3 }, ops);
    r.keys.forEach((v, k) => all.set(k, v));
    if (r.status[0] !== 0) return { status: r.status, keys: all, tsih: 0 };
    // A target may need more rounds before it agrees to transit.
    for (let i = 0; i < 4 && (r.pdu.bhs[1]! & 0x80) === 0; i++) {
      r = await this.loginStep(itt, { transit: true, csg: 1, nsg: 3 }, []);
      r.keys.forEach((v, k) => all.set(k, v));
    }
    this.tsih = r.pdu.bhs.readUInt16BE(14);
    this.digests = { headerDigest: all.get('HeaderDigest') === 'CRC32C', dataDigest: all.get('DataDigest') === 'CRC32C' };
    this.framer.update(this.digests);
    const yes = (k: string, d: boolean) => (all.has(k) ? all.get(k) === 'Yes' : d);
    const num = (k: string, d: number) => (all.has(k) ? Number(all.get(k)) : d);
    this.params = {
      immediateData: yes('ImmediateData', true),
      initialR2T: yes('InitialR2T', true),
      firstBurstLength: num('FirstBurstLength', 65536),
      maxBurstLength: num('MaxBurstLength', 262144),
      targetMaxRecv: num('MaxRecvDataSegmentLength', 8192),
    };
    return { status: r.status, keys: all, tsih: this.tsih };
  }

  // ------------------------------------------------------------------ full feature phase

  nextCmdSN(immediate = false): number {
    const sn = this.cmdSN;
    if (!immediate) this.cmdSN = (this.cmdSN + 1) >>> 0;
    return sn;
  }

  async command(o: CommandOptions): Promise<CommandResult> {
    const itt = this.allocItt();
    const lun = o.lun ?? 0;
    const write = o.write ?? Buffer.alloc(0);
    const isWrite = o.write !== undefined;
    const isRead = o.read !== undefined;
    const edtl = o.edtl ?? (isWrite ? write.length : (o.read ?? 0));
    const segMax = this.params.targetMaxRecv;
    const unsolicitedLimit = Math.min(this.params.firstBurstLength, edtl, write.length);
    const immLen = isWrite && this.params.immediateData ? Math.min(unsolicitedLimit, segMax) : 0;
    const unsolicitedDataOut = isWrite && !this.params.initialR2T && immLen < unsolicitedLimit;
    const dataIn: Buffer[] = [];
    const dataInLengths: number[] = [];
    const r2ts: { offset: number; length: number }[] = [];
    const cmdSN = this.nextCmdSN(o.immediate);

    const sendData = (offset: number, length: number, ttt: number) => {
      let dataSN = 0;
      for (let off = offset; off < offset + length; off += segMax) {
        const n = Math.min(segMax, offset + length - off);
        const chunk = write.subarray(off, off + n);
        this.send(
          P.dataOut({ final: off + n >= offset + length, lun, itt, ttt, expStatSN: this.expStatSN, dataSN: dataSN++, bufferOffset: off, dataLength: chunk.length }),
          chunk,
        );
      }
    };

    const rsp = await this.request(
      itt,
      () => {
        const { bhs, ahs } = P.scsiCommand({
          immediate: o.immediate,
          final: !unsolicitedDataOut,
          read: isRead,
          write: isWrite,
          attr: o.attr,
          lun,
          itt,
          edtl,
          cmdSN,
          expStatSN: this.expStatSN,
          cdb: o.cdb,
          dataLength: immLen,
        });
        this.send(bhs, immLen > 0 ? write.subarray(0, immLen) : undefined, ahs);
        if (unsolicitedDataOut) sendData(immLen, unsolicitedLimit - immLen, 0xffffffff);
      },
      (p) => {
        const op = opcodeOf(p.bhs);
        if (op === Op.DATA_IN) {
          dataIn.push(Buffer.from(p.data.toBuffer()));
          dataInLengths.push(dataSegmentLength(p.bhs));
        } else if (op === Op.R2T) {
          const offset = p.bhs.readUInt32BE(40);
          const length = p.bhs.readUInt32BE(44);
          r2ts.push({ offset, length });
          if (!o.holdData) sendData(offset, length, p.bhs.readUInt32BE(20));
        }
      },
    ).catch((err: unknown) => {
      // Name the command: "no answer for ITT 7" alone does not say which step of a test hung.
      throw new Error(`${err instanceof Error ? err.message : String(err)} (CDB opcode ${o.cdb[0]!.toString(16).padStart(2, '0')}h, LUN ${lun})`, { cause: err });
    });
    const op = opcodeOf(rsp.bhs);
    let sense: Buffer | undefined;
    if (op === Op.DATA_IN) {
      dataIn.push(Buffer.from(rsp.data.toBuffer()));
      dataInLengths.push(dataSegmentLength(rsp.bhs));
    } else if (rsp.data.length >= 2) {
      const d = rsp.data.toBuffer();
      const len = d.readUInt16BE(0);
      sense = Buffer.from(d.subarray(2, 2 + len));
    }
    const flags = rsp.bhs[1]!;
    return {
      status: rsp.bhs[3]!,
      sense,
      data: Buffer.concat(dataIn),
      underflow: (flags & 0x02) !== 0,
      overflow: (flags & 0x04) !== 0,
      residual: rsp.bhs.readUInt32BE(44),
      dataInPdus: dataInLengths.length,
      dataInLengths,
      r2ts,
      itt,
      cmdSN,
    };
  }

  async nop(data = Buffer.alloc(0), immediate = true): Promise<InPdu> {
    const itt = this.allocItt();
    const cmdSN = this.nextCmdSN(immediate);
    return this.request(itt, () =>
      this.send(P.nopOut({ immediate, itt, ttt: 0xffffffff, cmdSN, expStatSN: this.expStatSN, dataLength: data.length }), data),
    );
  }

  async tmf(fn: number, o: { lun?: number; refItt?: number; refCmdSN?: number } = {}): Promise<number> {
    const itt = this.allocItt();
    const cmdSN = this.nextCmdSN(true);
    const p = await this.request(itt, () =>
      this.send(
        P.tmfRequest({ immediate: true, fn, lun: o.lun ?? 0, itt, refItt: o.refItt ?? 0xffffffff, cmdSN, expStatSN: this.expStatSN, refCmdSN: o.refCmdSN ?? 0 }),
      ),
    );
    return p.bhs[2]!;
  }

  /** A Text request; follows the target's continuation (C bit) until the final PDU. */
  async text(pairs: [string, string][]): Promise<{ pairs: [string, string][]; pdus: number }> {
    const itt = this.allocItt();
    const data = encodeTextPairs(pairs);
    const parts: Buffer[] = [];
    let ttt = 0xffffffff;
    let payload = data;
    for (let pdus = 1; ; pdus++) {
      const cmdSN = this.nextCmdSN(false);
      const p = await this.request(itt, () =>
        this.send(P.textRequest({ immediate: false, final: true, itt, ttt, cmdSN, expStatSN: this.expStatSN, dataLength: payload.length }), payload),
      );
      parts.push(Buffer.from(p.data.toBuffer()));
      if ((p.bhs[1]! & 0x80) !== 0) return { pairs: parseTextData(Buffer.concat(parts)).pairs, pdus };
      ttt = p.bhs.readUInt32BE(20);
      payload = Buffer.alloc(0);
    }
  }

  async logout(reason = 0): Promise<number> {
    const itt = this.allocItt();
    const cmdSN = this.nextCmdSN(true);
    const p = await this.request(itt, () =>
      this.send(P.logoutRequest({ immediate: true, reason, itt, cid: 0, cmdSN, expStatSN: this.expStatSN })),
    );
    return p.bhs[2]!;
  }

  close(): void {
    this.socket.destroy();
  }
}
