/**
 * Login PDU by PDU over a real TCP connection, for tests of the login state machine:
 * any T/C/CSG/NSG combination, text split anywhere, every Login Response seen as sent
 * (C bit, status, data length), and CHAP computed here from the RFC 1994 formula.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { PduFramer } from '../../src/iscsi/framer.js';
import { Op } from '../../src/iscsi/opcodes.js';
import { opcodeOf, type InPdu } from '../../src/iscsi/pdu.js';
import { encodeTextPairs, parseTextData } from '../../src/iscsi/text.js';
import { loginRequest } from './initiator-pdus.js';

export interface LoginReply {
  readonly bhs: Buffer;
  readonly status: string; // "0000", "0201", ... (class and detail in hex)
  readonly transit: boolean;
  readonly cont: boolean;
  readonly csg: number;
  readonly nsg: number;
  readonly tsih: number;
  readonly data: Buffer;
  readonly keys: Map<string, string>;
  /** When it arrived (performance.now()). */
  readonly at: number;
}

export interface LoginFlags {
  transit: boolean;
  cont?: boolean;
  csg: number;
  nsg: number;
  versionMin?: number;
  versionMax?: number;
  isid?: Buffer;
  tsih?: number;
  cid?: number;
}

const CHAP_HASH: Record<number, string> = { 5: 'md5', 6: 'sha1', 7: 'sha256', 8: 'sha3-256' };

export class RawLogin {
  private readonly framer: PduFramer;
  private readonly queue: InPdu[] = [];
  private readonly waiters: ((p: InPdu | undefined) => void)[] = [];
  private closedFlag = false;
  readonly closed: Promise<void>;
  isid = Buffer.from([0x80, 0x00, 0x00, 0x42, 0x00, 0x01]);
  readonly itt = 0x1000;
  private expStatSN = 0;

  private constructor(readonly socket: net.Socket) {
    this.framer = new PduFramer(
      { headerDigest: false, dataDigest: false, maxDataSegmentLength: 16 * 1024 * 1024 },
      { onPdu: (p) => this.deliver(p), onFault: (f) => socket.destroy(new Error(`framing fault ${f.kind}`)) },
    );
    socket.on('data', (chunk: Buffer) => this.framer.push(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedFlag = true;
        for (const w of this.waiters.splice(0)) w(undefined);
        resolve();
      });
    });
  }

  /** `localAddress` picks the source address (any of 127.0.0.0/8 on loopback). */
  static connect(port: number, localAddress?: string): Promise<RawLogin> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
        s.setNoDelay(true);
        resolve(new RawLogin(s));
      });
      s.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Send one Login Request PDU (text as pairs or raw bytes) without waiting. */
  post(f: LoginFlags, text: [string, string][] | Buffer = []): void {
    const data = Buffer.isBuffer(text) ? text : encodeTextPairs(text);
    const bhs = loginRequest({
      transit: f.transit,
      cont: f.cont ?? false,
      csg: f.csg,
      nsg: f.nsg,
      isid: f.isid ?? this.isid,
      tsih: f.tsih ?? 0,
      itt: this.itt,
      cid: f.cid ?? 0,
      cmdSN: 1,
      expStatSN: this.expStatSN,
      dataLength: data.length,
      versionMin: f.versionMin,
      versionMax: f.versionMax,
    });
    const pad = (4 - (data.length % 4)) % 4;
    this.socket.write(Buffer.concat([bhs, data, Buffer.alloc(pad)]));
  }

  /** Send one Login Request and wait for the target's next PDU. */
  async request(f: LoginFlags, text: [string, string][] | Buffer = [], timeoutMs = 10_000): Promise<LoginReply> {
    this.post(f, text);
    return this.next(timeoutMs);
  }

  /** The next Login Response; rejects if the connection closes first or nothing comes in time. */
  next(timeoutMs = 10_000): Promise<LoginReply> {
    const ready = this.queue.shift();
    if (ready) return Promise.resolve(this.toReply(ready));
    if (this.closedFlag) return Promise.reject(new Error('connection closed before a Login Response'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no Login Response in time')), timeoutMs);
      this.waiters.push((p) => {
        clearTimeout(timer);
        if (p === undefined) reject(new Error('connection closed before a Login Response'));
        else resolve(this.toReply(p));
      });
    });
  }

  /** Resolves once the target closed the connection (rejects after `timeoutMs`). */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private deliver(p: InPdu): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(p);
    else this.queue.push(p);
  }

  private toReply(p: InPdu): LoginReply {
    if (opcodeOf(p.bhs) !== Op.LOGIN_RSP) throw new Error(`expected a Login Response, got opcode 0x${opcodeOf(p.bhs).toString(16)}`);
    const b1 = p.bhs[1]!;
    this.expStatSN = (p.bhs.readUInt32BE(24) + 1) >>> 0;
    const data = p.data.toBuffer();
    return {
      bhs: p.bhs,
      status: `${p.bhs[36]!.toString(16).padStart(2, '0')}${p.bhs[37]!.toString(16).padStart(2, '0')}`,
      transit: (b1 & 0x80) !== 0,
      cont: (b1 & 0x40) !== 0,
      csg: (b1 >> 2) & 3,
      nsg: b1 & 3,
      tsih: p.bhs.readUInt16BE(14),
      data,
      keys: new Map(parseTextData(data).pairs),
      at: performance.now(),
    };
  }
}

export interface ChapAttempt {
  initiatorName: string;
  targetName?: string;
  sessionType?: 'Normal' | 'Discovery';
  user: string;
  secret: string;
}

export interface ChapAttemptResult {
  /** The answer to the CHAP_N/CHAP_R request. */
  reply: LoginReply;
  /** Milliseconds from sending CHAP_R to that answer. */
  answerMs: number;
}

/**
 * Security stage with CHAP (algorithm SHA-256) up to the target's answer to CHAP_N/CHAP_R; the
 * connection stays as the target left it (closed after a failure, in the security stage otherwise).
 */
export async function chapAttempt(login: RawLogin, a: ChapAttempt): Promise<ChapAttemptResult> {
  const first: [string, string][] = [
    ['InitiatorName', a.initiatorName],
    ['SessionType', a.sessionType ?? 'Normal'],
  ];
  if (a.targetName !== undefined) first.push(['TargetName', a.targetName]);
  first.push(['AuthMethod', 'CHAP,None']);
  const offer = await login.request({ transit: false, csg: 0, nsg: 1 }, first);
  if (offer.status !== '0000' || offer.keys.get('AuthMethod') !== 'CHAP') {
    throw new Error(`CHAP not chosen: status ${offer.status}, AuthMethod=${offer.keys.get('AuthMethod')}`);
  }
  const challenge = await login.request({ transit: false, csg: 0, nsg: 1 }, [['CHAP_A', '7']]);
  if (challenge.status !== '0000') throw new Error(`no challenge: status ${challenge.status}`);
  const alg = Number(challenge.keys.get('CHAP_A'));
  const id = Number(challenge.keys.get('CHAP_I'));
  const c = Buffer.from((challenge.keys.get('CHAP_C') ?? '').slice(2), 'hex');
  const r = createHash(CHAP_HASH[alg] ?? 'sha256').update(Buffer.of(id)).update(a.secret).update(c).digest();
  const sent = performance.now();
  const reply = await login.request({ transit: true, csg: 0, nsg: 1 }, [
    ['CHAP_N', a.user],
    ['CHAP_R', `0x${r.toString('hex')}`],
  ]);
  return { reply, answerMs: reply.at - sent };
}

/** After a successful CHAP answer: the operational stage to full feature phase; returns the final reply. */
export async function finishLogin(login: RawLogin, keys: [string, string][] = []): Promise<LoginReply> {
  return login.request({ transit: true, csg: 1, nsg: 3 }, [['HeaderDigest', 'None'], ['DataDigest', 'None'], ...keys]);
}

/** A fresh random initiator name (valid iSCSI name). */
export function freshInitiatorName(tag: string): string {
  return `iqn.2026-11.io.scatter.test:${tag}-${randomBytes(4).toString('hex')}`;
}
