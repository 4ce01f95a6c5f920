/**
 * The fuzzing initiator: one TCP connection to the target, a model of what it sent, and the
 * checks on everything the target sends back. Generators build PDUs and call `send`; the
 * model is derived from the bytes actually sent (never from what a generator meant), so a
 * mutated PDU is judged by what it says.
 *
 * The model knows, per SCSI command, what the initiator still owes (unsolicited data, R2T
 * answers) and so when the target owes an answer (assertion f); it counts statuses per task
 * (b), checks every PDU on its own (c, pdu-check.ts) and in sequence (StatSN, DataSN, offsets,
 * window), and holds the RFC 7143 answers a generator asked for (`expect`).
 */
import net from 'node:net';
import type { CaseContext } from './case.js';
import { checkTargetPdu } from './pdu-check.js';
import { textSummary } from './trace.js';
import {
  NO_TAG,
  Opcode,
  WireReader,
  dataOutBhs,
  dslOf,
  ittOf,
  nopOutBhs,
  opOf,
  parseText,
  pduBytes,
  tmfBhs,
  type Damage,
  type Digests,
  type RxPdu,
} from './wire.js';

export const snLess = (a: number, b: number): boolean =>
  a !== b && ((a < b && b - a < 0x80000000) || (a > b && a - b > 0x80000000));
export const snLessEq = (a: number, b: number): boolean => a === b || snLess(a, b);
const snAdd = (a: number, n: number): number => (a + n) >>> 0;

export interface Negotiated {
  immediateData: boolean;
  initialR2T: boolean;
  firstBurst: number;
  maxBurst: number;
  maxOutR2T: number;
}

interface R2tModel {
  readonly offset: number;
  readonly length: number;
  sent: number;
  dataSN: number;
  closed: boolean;
}

/** One SCSI command as the initiator sees it. */
export interface TaskModel {
  readonly itt: number;
  readonly lunField: Buffer;
  readonly cmdSN: number;
  readonly immediate: boolean;
  readonly read: boolean;
  readonly write: boolean;
  readonly edtl: number;
  readonly readLength: number;
  readonly cdb: string;
  /** Command PDUs with this ITT the target may answer (not rejected, not expected to be rejected). */
  instances: number;
  statuses: number;
  /** Data-In / R2T numbering (shared for bidirectional commands, RFC 7143 §11.8). */
  inSN: number;
  dataInBytes: number;
  burstBytes: number;
  unsolOpen: boolean;
  unsolSent: number;
  unsolDataSN: number;
  readonly r2ts: Map<number, R2tModel>;
  /** Why the initiator side can no longer complete this command (it is aborted at the end). */
  broken: string | undefined;
  /** The command itself breaks a rule; the target may refuse it any way it likes. */
  dubious: string | undefined;
  /** Not delivered: outside the CmdSN window or a reserved tag. It must never be executed. */
  neverRun: string | undefined;
  /** A Function Complete ABORT TASK for it has been received: no status may follow. */
  aborted: boolean;
  gone: boolean;
  /** Manual: the generator answers R2Ts itself. */
  auto: boolean;
  waitingSince: number | undefined;
  hung: boolean;
  /** The data to send when the session answers R2Ts (a parameter list); filler otherwise. */
  payload?: Buffer;
}

type ReqKind = 'nop' | 'tmf' | 'text' | 'logout' | 'login';

interface ReqModel {
  readonly kind: ReqKind;
  readonly itt: number;
  /** Responses still due (one per request PDU: Text and Login go back and forth). */
  due: number;
  since: number;
  hung: boolean;
  readonly owed: boolean;
  readonly desc: string;
  onAnswer?: (p: RxPdu) => void;
}

/** An answer a generator knows RFC 7143 requires for a PDU it sent. */
export interface Expectation {
  readonly desc: string;
  /** Returns true when `p` satisfies it; may report failures itself. */
  match(p: RxPdu): boolean;
  /** The connection closing also satisfies it (e.g. a protocol error may drop the connection). */
  readonly closeOk: boolean;
  since: number;
  done: boolean;
}

interface SentInfo {
  readonly op: number;
  readonly cmdSN: number;
  readonly immediate: boolean;
  readonly nonImmediateCommand: boolean;
  /** A SCSI Command PDU the model counts as a task (undone by a Reject of it). */
  countedTask: boolean;
}

export interface SendOptions {
  ahs?: Buffer;
  data?: Buffer;
  damage?: Damage;
  note?: string;
  /** CmdSN placement: 'in' = allocated by nextCmdSN (default for non-immediate when allocated). */
  window?: 'in' | 'out';
  /** The target must Reject this PDU (or close, when closeOk). */
  expectReject?: { why: string; closeOk: boolean };
  /** A Data-Out / command the generator will drive by hand (R2Ts not answered automatically). */
  manual?: boolean;
  /** Mark the command dubious: the target may refuse it any way (no answer owed). */
  dubious?: string;
}

interface Waiter {
  since: number;
  match(p: RxPdu): boolean;
  resolve(p: RxPdu | undefined): void;
  timer: ReturnType<typeof setTimeout>;
}

const NON_IMMEDIATE_COMMANDS = new Set<number>([Opcode.NOP_OUT, Opcode.SCSI_CMD, Opcode.TMF_REQ, Opcode.TEXT_REQ, Opcode.LOGOUT_REQ]);
const STATUS_OPS = new Set<number>([Opcode.SCSI_RSP, Opcode.TMF_RSP, Opcode.TEXT_RSP, Opcode.LOGOUT_RSP, Opcode.LOGIN_RSP, Opcode.ASYNC, Opcode.REJECT]);
/** More than any window the target can open beyond our next CmdSN (its maxCmdWindow is far smaller). */
const MAX_WINDOW = 1024;
/** Keep Data-In data only up to this size in the history (a case may read hundreds of MiB). */
const KEEP_DATA = 64 * 1024;

export class FuzzSession {
  phase: 'login' | 'ffp' = 'login';
  closed = false;
  digests: Digests = { header: false, data: false };
  ourMaxRecv = 8192;
  targetMaxRecv = 8192;
  params: Negotiated = { immediateData: true, initialR2T: true, firstBurst: 65536, maxBurst: 262144, maxOutR2T: 1 };
  cmdSN = 1;
  expStatSN = 0;
  tgtExpCmdSN: number | undefined;
  tgtMaxCmdSN: number | undefined;
  answerPings = true;
  /** Byte-level damage was sent: the stream may be out of step, some checks are relaxed. */
  mutating = false;
  /** A Logout was answered or a cold reset done: nothing more is sent. */
  ending = false;
  /**
   * Bytes that were not the PDU they claim to be went out (truncated, garbage, a length or digest
   * that lies): the target's framing may be out of step with ours, so nothing sent after is owed an answer.
   */
  outOfStep = false;
  /** When the target last sent something other than a ping: owed answers may take answerMs of silence. */
  private lastProgress = Date.now();
  readonly tasks = new Map<number, TaskModel>();
  readonly reqs = new Map<number, ReqModel>();
  readonly expectations: Expectation[] = [];
  readonly history: RxPdu[] = [];
  private readonly sent = new Map<string, SentInfo>();
  private readonly allocated = new Set<number>();
  private readonly waiters = new Set<Waiter>();
  private readonly closeWaiters: (() => void)[] = [];
  private nextItt = 1;
  /** Text keys of every Login Response and our declared MaxRecvDataSegmentLength, for the switch to full feature phase. */
  private readonly loginKeys = new Map<string, string>();
  private declaredMaxRecv: number | undefined;
  private statSn: number | undefined;
  private statSnSlack = false;
  private readonly reader: WireReader;
  isDiscovery = false;
  isid = Buffer.from([0x80, 0, 0, 0, 0, 1]);
  tsih = 0;
  cid = 0;

  private constructor(
    readonly socket: net.Socket,
    readonly ctx: CaseContext,
    readonly answerMs: number,
  ) {
    this.reader = new WireReader(
      () => this.digests,
      (p) => this.onPdu(p),
    );
    socket.on('data', (c: Buffer) => this.reader.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  static connect(port: number, ctx: CaseContext, answerMs: number): Promise<FuzzSession> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.setNoDelay(true);
        s.removeListener('error', reject);
        resolve(new FuzzSession(s, ctx, answerMs));
      });
      s.once('error', reject);
    });
  }

  fail: CaseContext['fail'] = (kind, message) => this.ctx.fail(kind, message);

  allocItt(): number {
    const itt = this.nextItt;
    this.nextItt = this.nextItt >= 0x7ffffff0 ? 1 : this.nextItt + 1;
    return itt;
  }

  /**
   * The CmdSN for the next command: immediate ones carry the next CmdSN without taking it;
   * non-immediate ones wait (bounded) until the target's window has room, then take it.
   */
  async nextCmdSN(immediate: boolean): Promise<number> {
    if (immediate) return this.cmdSN;
    if (this.tgtMaxCmdSN !== undefined && !snLessEq(this.cmdSN, this.tgtMaxCmdSN)) {
      const opened = await this.waitPdu(() => this.tgtMaxCmdSN !== undefined && snLessEq(this.cmdSN, this.tgtMaxCmdSN), this.answerMs);
      if (!opened && !this.closed) this.fail('hang', `the CmdSN window never opened for CmdSN ${this.cmdSN} (MaxCmdSN ${this.tgtMaxCmdSN})`);
    }
    const sn = this.cmdSN;
    this.cmdSN = snAdd(this.cmdSN, 1);
    this.allocated.add(sn);
    return sn;
  }

  /** Current position in the received history (for waitPdu's `since`). */
  mark(): number {
    return this.history.length;
  }

  /** The first PDU received at or after `since` that matches; undefined on timeout or close. */
  waitPdu(match: (p: RxPdu) => boolean, ms = this.answerMs, since = this.history.length): Promise<RxPdu | undefined> {
    for (let i = since; i < this.history.length; i++) if (match(this.history[i]!)) return Promise.resolve(this.history[i]);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const w: Waiter = {
        since,
        match,
        resolve: (p) => {
          clearTimeout(w.timer);
          this.waiters.delete(w);
          resolve(p);
        },
        timer: setTimeout(() => w.resolve(undefined), ms),
      };
      this.waiters.add(w);
    });
  }

  /** Resolves true when the target has closed the connection, false after `ms`. */
  waitClosed(ms = this.answerMs): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  // ------------------------------------------------------------------ sending

  send(head: Buffer, o: SendOptions = {}): void {
    if (this.closed) return;
    const bytes = pduBytes(head, o.ahs, o.data, this.digests, o.damage);
    const damage = o.damage;
    if (damage && Object.values(damage).some(Boolean)) {
      this.mutating = true;
      // A wrong or misplaced digest: the target may drop the PDU or the connection; nothing is owed for it.
      const { dirtyPadding: _padding, ...rest } = damage;
      if (Object.values(rest).some(Boolean)) o = { ...o, dubious: o.dubious ?? 'sent with a damaged digest' };
      if (damage.flipHeaderDigest || (damage.flipDataDigest && (o.data?.length ?? 0) > 0)) this.outOfStep = true;
    }
    const note = [o.note, o.data && o.data.length > 0 && (opOf(head) === Opcode.TEXT_REQ || opOf(head) === Opcode.LOGIN_REQ) ? `"${textSummary(o.data)}"` : '']
      .filter(Boolean)
      .join(' ');
    this.ctx.trace.sent(head, note ? `  ${note}` : '');
    this.model(head, o);
    this.socket.write(bytes);
  }

  /** Bytes that are not a PDU (truncated, garbage): the model learns nothing from them. */
  sendRaw(bytes: Buffer, note: string): void {
    if (this.closed) return;
    this.mutating = true;
    this.outOfStep = true;
    this.ctx.trace.add(`> raw ${bytes.length} bytes (${note}) ${bytes.subarray(0, 64).toString('hex')}`);
    this.socket.write(bytes);
  }

  expect(e: Omit<Expectation, 'since' | 'done'>): Expectation {
    const x: Expectation = { ...e, since: Date.now(), done: false };
    this.expectations.push(x);
    for (const p of this.history) if (!x.done && x.match(p)) x.done = true;
    return x;
  }

  private model(head: Buffer, o: SendOptions): void {
    const op = opOf(head);
    const immediate = (head[0]! & 0x40) !== 0;
    const itt = ittOf(head);
    const cmdSN = head.readUInt32BE(24);
    const nonImmediateCommand = !immediate && NON_IMMEDIATE_COMMANDS.has(op) && !(op === Opcode.NOP_OUT && itt === NO_TAG);
    const place = nonImmediateCommand && this.phase === 'ffp' ? this.place(cmdSN, o.window) : 'in';
    const inWindow = place === 'in';
    if (place === 'unsure') o = { ...o, dubious: o.dubious ?? `CmdSN ${cmdSN} neither surely inside nor surely outside the window` };
    const info: SentInfo = { op, cmdSN, immediate, nonImmediateCommand, countedTask: false };
    this.sent.set(head.toString('hex'), info);
    if (o.expectReject) {
      const want = Buffer.from(head);
      const why = o.expectReject.why;
      this.expect({
        desc: `a Reject of ${why}`,
        closeOk: o.expectReject.closeOk,
        match: (p) => opOf(p.bhs) === Opcode.REJECT && p.data.subarray(0, 48).equals(want),
      });
    }
    // Before full feature phase only Login Requests are allowed: another PDU may get a failed Login Response.
    if (this.phase === 'login' && op !== Opcode.LOGIN_REQ) {
      this.addReq('login', itt, false, `${op.toString(16)} during login`);
      return;
    }
    switch (op) {
      case Opcode.SCSI_CMD:
        info.countedTask = this.modelCommand(head, o, place);
        return;
      case Opcode.DATA_OUT:
        return this.modelDataOut(head, o.data?.length ?? 0);
      case Opcode.NOP_OUT:
        if (itt !== NO_TAG) this.addReq('nop', itt, inWindow && !o.expectReject && !o.dubious, `NOP-Out itt=${itt.toString(16)}`);
        return;
      case Opcode.TMF_REQ:
        if (!o.expectReject) this.addReq('tmf', itt, inWindow && !o.dubious, `TMF fn=${head[1]! & 0x7f} itt=${itt.toString(16)}`);
        return;
      case Opcode.TEXT_REQ:
        if (!o.expectReject) this.addReq('text', itt, inWindow && !o.dubious, `Text itt=${itt.toString(16)}`);
        return;
      case Opcode.LOGOUT_REQ:
        if (!o.expectReject) this.addReq('logout', itt, inWindow && !o.dubious, `Logout reason=${head[1]! & 0x7f}`);
        return;
      case Opcode.LOGIN_REQ:
        if (this.phase === 'login') {
          this.addReq('login', itt, true, 'Login');
          const declared = parseText(o.data ?? Buffer.alloc(0)).find(([k]) => k === 'MaxRecvDataSegmentLength');
          if (declared && /^[0-9]+$/.test(declared[1])) this.declaredMaxRecv = Number(declared[1]);
        }
        return;
      default:
        return;
    }
  }

  /**
   * Where a non-immediate command's CmdSN falls: 'in' (allocated by nextCmdSN, a gap plug, or
   * the next CmdSN sent unplanned, e.g. after a bit flip), 'out' (a CmdSN already used, or more
   * than any window ahead: RFC 7143 §4.2.2.1 says ignore it) or 'unsure'.
   */
  private place(cmdSN: number, wish: SendOptions['window']): 'in' | 'out' | 'unsure' {
    if (wish === 'out') return 'out';
    if (this.allocated.delete(cmdSN) || wish === 'in') return 'in';
    if (cmdSN === this.cmdSN && (this.tgtMaxCmdSN === undefined || snLessEq(cmdSN, this.tgtMaxCmdSN))) {
      this.cmdSN = snAdd(this.cmdSN, 1);
      return 'in';
    }
    if (snLess(cmdSN, this.cmdSN)) return 'out';
    if (snLess(snAdd(this.cmdSN, MAX_WINDOW), cmdSN)) return 'out';
    return 'unsure';
  }

  private addReq(kind: ReqKind, itt: number, owed: boolean, desc: string): void {
    const r = this.reqs.get(itt);
    if (r && r.kind === kind) {
      r.due++;
      r.since = Date.now();
      return;
    }
    this.reqs.set(itt, { kind, itt, due: 1, since: Date.now(), hung: false, owed, desc });
  }

  private modelCommand(b: Buffer, o: SendOptions, place: 'in' | 'out' | 'unsure'): boolean {
    const itt = ittOf(b);
    const f = b[1]!;
    const final = (f & 0x80) !== 0;
    const read = (f & 0x40) !== 0;
    const write = (f & 0x20) !== 0;
    const edtl = b.readUInt32BE(20);
    const imm = o.data?.length ?? 0;
    const p = this.params;
    let dubious = o.dubious;
    if (imm > 0 && !write) dubious ??= 'immediate data on a command without W';
    if (imm > 0 && write && !p.immediateData) dubious ??= 'immediate data with ImmediateData=No';
    if (imm > Math.min(p.firstBurst, edtl)) dubious ??= 'immediate data beyond FirstBurstLength or EDTL';
    if (imm > this.targetMaxRecv) dubious ??= 'immediate data beyond the target MaxRecvDataSegmentLength';
    if (write && !final && p.initialR2T) dubious ??= 'unsolicited data announced with InitialR2T=Yes';
    if (!read && !write && edtl > 0) dubious ??= 'EDTL without R or W';
    if (!final && !write) dubious ??= 'F=0 on a command without W';
    if (write && !final && imm >= Math.min(p.firstBurst, edtl)) dubious ??= 'F=0 although the unsolicited burst is complete';
    let neverRun: string | undefined;
    if (itt === NO_TAG) neverRun = 'the reserved ITT 0xffffffff';
    else if (place === 'out') neverRun = `a CmdSN (${b.readUInt32BE(24)}) outside the window`;
    const existing = this.tasks.get(itt);
    if (existing && existing.instances > existing.statuses && !existing.aborted && !existing.gone && itt !== NO_TAG) {
      // The ITT is in use: this PDU is no task of its own (a target that runs it answers twice).
      return false;
    }
    const counted = !o.expectReject && !neverRun;
    this.tasks.set(itt, {
      itt,
      lunField: Buffer.from(b.subarray(8, 16)),
      cmdSN: b.readUInt32BE(24),
      immediate: (b[0]! & 0x40) !== 0,
      read,
      write,
      edtl,
      readLength: read ? (write ? bidiLength(o.ahs) : edtl) : 0,
      cdb: b.subarray(32, 48).toString('hex'),
      instances: counted ? 1 : 0,
      statuses: 0,
      inSN: 0,
      dataInBytes: 0,
      burstBytes: 0,
      unsolOpen: write && !final,
      unsolSent: imm,
      unsolDataSN: 0,
      r2ts: new Map(),
      broken: undefined,
      dubious,
      neverRun,
      aborted: false,
      gone: false,
      auto: !o.manual,
      waitingSince: undefined,
      hung: false,
    });
    return counted;
  }

  private modelDataOut(b: Buffer, len: number): void {
    const itt = ittOf(b);
    const t = this.tasks.get(itt);
    if (!t || t.statuses >= t.instances) return;
    const final = (b[1]! & 0x80) !== 0;
    const ttt = b.readUInt32BE(20);
    const dataSN = b.readUInt32BE(36);
    const offset = b.readUInt32BE(40);
    if (ttt === NO_TAG) {
      const limit = Math.min(this.params.firstBurst, t.edtl);
      if (!t.unsolOpen) t.broken ??= 'unsolicited Data-Out after the unsolicited burst ended';
      else if (this.params.initialR2T) t.broken ??= 'unsolicited Data-Out with InitialR2T=Yes';
      else if (offset !== t.unsolSent) t.broken ??= `unsolicited Data-Out at offset ${offset}, next is ${t.unsolSent}`;
      else if (dataSN !== t.unsolDataSN) t.broken ??= `unsolicited DataSN ${dataSN}, next is ${t.unsolDataSN}`;
      else if (offset + len > limit) t.broken ??= 'unsolicited Data-Out beyond FirstBurstLength / EDTL';
      else if (len === 0 && !final) t.broken ??= 'zero-length unsolicited Data-Out without F';
      else {
        t.unsolSent += len;
        t.unsolDataSN++;
      }
      if (final) t.unsolOpen = false;
      return;
    }
    const r = t.r2ts.get(ttt);
    if (!r) t.broken ??= `Data-Out with TTT ${ttt.toString(16)} that no outstanding R2T carries`;
    else if (r.closed) t.broken ??= 'Data-Out after the last one of its R2T';
    else if (offset !== r.offset + r.sent) t.broken ??= `Data-Out at offset ${offset}, next is ${r.offset + r.sent}`;
    else if (dataSN !== r.dataSN) t.broken ??= `DataSN ${dataSN}, next is ${r.dataSN}`;
    else if (r.sent + len > r.length) t.broken ??= 'more Data-Out than the R2T asked for';
    else if (len === 0 && !final) t.broken ??= 'zero-length Data-Out without F';
    else {
      r.sent += len;
      r.dataSN++;
      if (!final && r.sent === r.length) {
        // The target has all it asked for and may count the R2T done (and send the next one).
        t.broken ??= 'all of an R2T\'s data without F';
        r.closed = true;
      }
    }
    // F ends the sequence whatever it carried: an early F leaves the target short of data,
    // which it must answer (RFC 7143 §11.7: F marks the last PDU of a sequence).
    if (r && final) r.closed = true;
  }

  // ------------------------------------------------------------------ data helpers

  /** Data-Out PDUs for [offset, offset+length) of one sequence (correct numbering, F on the last). */
  sendData(t: TaskModel, ttt: number, offset: number, length: number, firstDataSN: number, note?: string): void {
    const chunk = Math.max(1, Math.min(this.targetMaxRecv, 256 * 1024));
    let dataSN = firstDataSN;
    let at = offset;
    const end = offset + length;
    do {
      const n = Math.min(chunk, end - at);
      const data = t.payload && at + n <= t.payload.length ? t.payload.subarray(at, at + n) : Buffer.alloc(n, t.itt & 0xff);
      const head = dataOutBhs({ final: at + n >= end, lun: 0, itt: t.itt, ttt, expStatSN: this.expStatSN, dataSN: dataSN++, offset: at, dataLength: n });
      t.lunField.copy(head, 8);
      this.send(head, { data, note });
      at += n;
    } while (at < end && !this.closed);
  }

  /** Answer an outstanding R2T with the rest of its data. */
  completeR2t(t: TaskModel, ttt: number): void {
    const r = t.r2ts.get(ttt);
    if (!r || r.closed) return;
    this.sendData(t, ttt, r.offset + r.sent, r.length - r.sent, r.dataSN, 'auto');
  }

  /** Finish the unsolicited burst (the rest up to FirstBurstLength / EDTL, F on the last). */
  completeUnsolicited(t: TaskModel): void {
    if (!t.unsolOpen || t.broken) return;
    const limit = Math.min(this.params.firstBurst, t.edtl);
    if (limit - t.unsolSent <= 0) {
      t.broken ??= 'unsolicited burst complete but F never sent';
      return;
    }
    this.sendData(t, NO_TAG, t.unsolSent, limit - t.unsolSent, t.unsolDataSN, 'auto');
  }

  // ------------------------------------------------------------------ receiving

  private onPdu(p: RxPdu): void {
    const b = p.bhs;
    const op = opOf(b);
    const itt = ittOf(b);
    if (op === Opcode.DATA_IN && p.data.length > KEEP_DATA) p = { ...p, data: Buffer.alloc(0) };
    const dsl = dslOf(b);
    if (!(op === Opcode.NOP_IN && itt === NO_TAG) && op !== Opcode.ASYNC) this.lastProgress = Date.now();
    const extra = op === Opcode.TEXT_RSP || op === Opcode.LOGIN_RSP ? `  "${textSummary(p.data)}"` : '';
    this.ctx.trace.received(b, extra + (p.problems.length ? ` [${p.problems.join('; ')}]` : ''));
    for (const problem of checkTargetPdu(p, { maxRecv: this.ourMaxRecv, phase: this.phase })) {
      if (problem.startsWith('data segment')) this.fail('segment-length', `${opName(op)}: ${problem}`);
      else if (!(this.mutating && op === Opcode.REJECT)) this.fail('malformed', `${opName(op)}: ${problem}`);
    }
    this.checkSequence(p);
    switch (op) {
      case Opcode.NOP_IN:
        if (itt === NO_TAG) {
          if (this.answerPings && this.phase === 'ffp' && !this.ending) {
            this.send(nopOutBhs({ immediate: true, itt: NO_TAG, ttt: b.readUInt32BE(20), cmdSN: this.cmdSN, expStatSN: this.expStatSN, dataLength: 0 }), { note: 'ping answer' });
          }
        } else this.answered(p, 'nop');
        break;
      case Opcode.SCSI_RSP:
      case Opcode.DATA_IN:
        this.onTaskPdu(p, op, itt, dsl);
        break;
      case Opcode.R2T:
        this.onR2t(p, itt);
        break;
      case Opcode.TMF_RSP:
        this.answered(p, 'tmf');
        break;
      case Opcode.TEXT_RSP:
        this.answered(p, 'text');
        break;
      case Opcode.LOGOUT_RSP:
        this.answered(p, 'logout');
        break;
      case Opcode.LOGIN_RSP:
        this.answered(p, 'login');
        if (this.phase === 'login') this.onLoginResponse(p);
        break;
      case Opcode.REJECT:
        this.onReject(p);
        break;
      default:
        break;
    }
    for (const x of this.expectations) if (!x.done && x.match(p)) x.done = true;
    this.history.push(p);
    for (const w of [...this.waiters]) if (w.match(p)) w.resolve(p);
  }

  /**
   * The final Login Response (T=1, NSG=3, success) switches digests and segment limits for
   * the very next PDU in each direction, so it is done here, before the next PDU is framed.
   */
  private onLoginResponse(p: RxPdu): void {
    for (const [k, v] of parseText(p.data)) this.loginKeys.set(k, v);
    const b1 = p.bhs[1]!;
    if ((b1 & 0x80) === 0 || (b1 & 3) !== 3 || p.bhs[36] !== 0) return;
    this.phase = 'ffp';
    this.tsih = p.bhs.readUInt16BE(14);
    this.digests = { header: this.loginKeys.get('HeaderDigest') === 'CRC32C', data: this.loginKeys.get('DataDigest') === 'CRC32C' };
    this.ourMaxRecv = this.declaredMaxRecv ?? 8192;
    const theirs = Number(this.loginKeys.get('MaxRecvDataSegmentLength') ?? 8192);
    this.targetMaxRecv = Number.isInteger(theirs) && theirs >= 512 ? theirs : 8192;
    this.cmdSN = p.bhs.readUInt32BE(28);
    this.tgtExpCmdSN = this.cmdSN;
    this.tgtMaxCmdSN = p.bhs.readUInt32BE(32);
  }

  private checkSequence(p: RxPdu): void {
    const b = p.bhs;
    const op = opOf(b);
    const statSN = b.readUInt32BE(24);
    const carries = STATUS_OPS.has(op) || (op === Opcode.DATA_IN && (b[1]! & 1) !== 0) || (op === Opcode.NOP_IN && ittOf(b) !== NO_TAG);
    if (carries) {
      if (this.statSn === undefined) this.statSn = statSN;
      if (statSN === this.statSn) {
        this.statSn = snAdd(statSN, 1);
        this.statSnSlack = op === Opcode.REJECT || op === Opcode.ASYNC;
      } else if (this.statSnSlack && statSN === snAdd(this.statSn, -1)) {
        // A target that does not advance StatSN on a Reject / Async Message.
        this.statSnSlack = false;
      } else if (!this.mutating) {
        this.fail('malformed', `${opName(op)} StatSN ${statSN}, expected ${this.statSn}`);
        this.statSn = snAdd(statSN, 1);
      }
      this.expStatSN = this.statSn;
    } else if ((op === Opcode.R2T || (op === Opcode.NOP_IN && ittOf(b) === NO_TAG)) && this.statSn !== undefined && statSN !== this.statSn && !this.mutating) {
      this.fail('malformed', `${opName(op)} StatSN ${statSN}, expected the next StatSN ${this.statSn}`);
    }
    if (this.phase !== 'ffp' || op === Opcode.LOGIN_RSP) return;
    const exp = b.readUInt32BE(28);
    const max = b.readUInt32BE(32);
    if (this.tgtExpCmdSN !== undefined && snLess(exp, this.tgtExpCmdSN)) this.fail('malformed', `ExpCmdSN went back from ${this.tgtExpCmdSN} to ${exp}`);
    if (this.tgtMaxCmdSN !== undefined && snLess(max, this.tgtMaxCmdSN)) this.fail('malformed', `MaxCmdSN went back from ${this.tgtMaxCmdSN} to ${max}`);
    if (snLess(max, snAdd(exp, -1))) this.fail('malformed', `MaxCmdSN ${max} < ExpCmdSN ${exp} - 1`);
    if (this.tgtExpCmdSN === undefined || snLess(this.tgtExpCmdSN, exp)) this.tgtExpCmdSN = exp;
    if (this.tgtMaxCmdSN === undefined || snLess(this.tgtMaxCmdSN, max)) this.tgtMaxCmdSN = max;
  }

  private onTaskPdu(p: RxPdu, op: number, itt: number, dsl: number): void {
    const b = p.bhs;
    const t = this.tasks.get(itt);
    const status = op === Opcode.SCSI_RSP || (b[1]! & 0x01) !== 0;
    const what = `${opName(op)} for ITT ${itt.toString(16)}`;
    if (!t) {
      if (!this.mutating) this.fail('stray-status', `${what}, a tag never sent in a SCSI Command`);
      return;
    }
    if (t.neverRun && status) this.fail('rfc', `${what}: the target executed ${t.neverRun} (RFC 7143 §11.3: it must not run)`);
    if (op === Opcode.DATA_IN) {
      if (t.instances > 0 && t.statuses >= t.instances) this.fail('malformed', `${what}: Data-In after the command's status`);
      if (!t.read) this.fail('malformed', `${what}: Data-In for a command without R`);
      const dataSN = b.readUInt32BE(36);
      const offset = b.readUInt32BE(40);
      if (dataSN !== t.inSN && !this.mutating) this.fail('malformed', `${what}: DataSN ${dataSN}, expected ${t.inSN}`);
      if (offset !== t.dataInBytes && !this.mutating) this.fail('malformed', `${what}: buffer offset ${offset}, expected ${t.dataInBytes}`);
      if (offset + dsl > t.readLength) this.fail('malformed', `${what}: data to ${offset + dsl} past the expected length ${t.readLength}`);
      t.inSN++;
      t.dataInBytes += dsl;
      t.burstBytes += dsl;
      if (t.burstBytes > this.params.maxBurst) this.fail('malformed', `${what}: a Data-In sequence of ${t.burstBytes} bytes > MaxBurstLength ${this.params.maxBurst}`);
      if ((b[1]! & 0x80) !== 0) t.burstBytes = 0;
    }
    if (!status) return;
    t.statuses++;
    if (t.aborted) this.fail('rfc', `${what}: a status after ABORT TASK answered Function Complete`);
    if (t.statuses > t.instances && !t.neverRun) {
      this.fail(
        'double-status',
        `${what}: status #${t.statuses} (status 0x${b[3]!.toString(16)}) for ${t.instances} command(s) — a task gets exactly one response`,
      );
    }
    t.waitingSince = undefined;
    if (op === Opcode.SCSI_RSP && t.read && !t.write && b[2] === 0 && b[3] === 0) this.checkReadResidual(t, b);
    if (op === Opcode.DATA_IN && t.read && !t.write && b[3] === 0) this.checkReadResidual(t, b);
  }

  /** GOOD read: data + underflow = EDTL; overflow only with the whole EDTL sent. */
  private checkReadResidual(t: TaskModel, b: Buffer): void {
    const f = b[1]!;
    const resid = b.readUInt32BE(44);
    const what = `ITT ${t.itt.toString(16)} GOOD read`;
    if ((f & 0x02) !== 0 && t.dataInBytes + resid !== t.edtl) this.fail('malformed', `${what}: ${t.dataInBytes} bytes + underflow ${resid} != EDTL ${t.edtl}`);
    if ((f & 0x06) === 0 && t.dataInBytes !== t.edtl) this.fail('malformed', `${what}: ${t.dataInBytes} bytes without residual, EDTL ${t.edtl}`);
    if ((f & 0x04) !== 0 && t.dataInBytes !== t.edtl) this.fail('malformed', `${what}: overflow but only ${t.dataInBytes} of EDTL ${t.edtl} bytes`);
  }

  private onR2t(p: RxPdu, itt: number): void {
    const b = p.bhs;
    const t = this.tasks.get(itt);
    const what = `R2T for ITT ${itt.toString(16)}`;
    if (!t) {
      if (!this.mutating) this.fail('stray-status', `${what}, a tag never sent in a SCSI Command`);
      return;
    }
    if (!t.write) this.fail('malformed', `${what}: R2T for a command without W`);
    if (t.statuses >= t.instances && t.instances > 0) this.fail('malformed', `${what}: R2T after the command's status`);
    const ttt = b.readUInt32BE(20);
    const r2tSN = b.readUInt32BE(36);
    const offset = b.readUInt32BE(40);
    const length = b.readUInt32BE(44);
    if (r2tSN !== t.inSN && !this.mutating) this.fail('malformed', `${what}: R2TSN ${r2tSN}, expected ${t.inSN}`);
    t.inSN++;
    if (offset + length > t.edtl) this.fail('malformed', `${what}: asks for ${offset}+${length} past EDTL ${t.edtl}`);
    if (length > this.params.maxBurst) this.fail('malformed', `${what}: ${length} bytes > MaxBurstLength ${this.params.maxBurst}`);
    if (t.r2ts.has(ttt) && !t.r2ts.get(ttt)!.closed) this.fail('malformed', `${what}: TTT ${ttt.toString(16)} already outstanding`);
    const open = [...t.r2ts.values()].filter((r) => !r.closed && r.sent < r.length).length;
    if (open + 1 > this.params.maxOutR2T && !t.neverRun && !this.mutating) this.fail('malformed', `${what}: ${open + 1} R2Ts outstanding > MaxOutstandingR2T ${this.params.maxOutR2T}`);
    t.r2ts.set(ttt, { offset, length, sent: 0, dataSN: 0, closed: false });
    t.waitingSince = undefined;
    if (t.auto && !t.broken && !t.dubious && !this.ending) this.completeR2t(t, ttt);
  }

  private answered(p: RxPdu, kind: ReqKind): void {
    const itt = ittOf(p.bhs);
    const r = this.reqs.get(itt);
    if (!r || r.kind !== kind) {
      if (this.mutating) return;
      this.fail('stray-status', `${opName(opOf(p.bhs))} for ITT ${itt.toString(16)}, which no ${kind} request carried`);
      return;
    }
    if (r.due <= 0) {
      this.fail('double-status', `${opName(opOf(p.bhs))} for ITT ${itt.toString(16)}: more responses than requests`);
      return;
    }
    r.due--;
    r.onAnswer?.(p);
    if (kind === 'nop' && r.due === 0) this.reqs.delete(itt);
  }

  private onReject(p: RxPdu): void {
    const echoed = p.data.subarray(0, 48);
    const info = this.sent.get(echoed.toString('hex'));
    if (!info) {
      if (!this.mutating) this.fail('malformed', `Reject (reason 0x${p.bhs[2]!.toString(16)}) echoes a header that was never sent: ${echoed.toString('hex')}`);
      return;
    }
    const itt = ittOf(echoed);
    switch (info.op) {
      case Opcode.SCSI_CMD: {
        const t = this.tasks.get(itt);
        if (t && info.countedTask && t.instances > t.statuses) {
          // A Reject ends the command PDU: it never became a task.
          info.countedTask = false;
          t.instances--;
          t.gone = t.instances <= t.statuses;
        }
        break;
      }
      case Opcode.DATA_OUT: {
        const t = this.tasks.get(itt);
        if (t) t.broken ??= `Data-Out rejected (reason 0x${p.bhs[2]!.toString(16)})`;
        break;
      }
      case Opcode.NOP_OUT:
      case Opcode.TMF_REQ:
      case Opcode.TEXT_REQ:
      case Opcode.LOGOUT_REQ: {
        const r = this.reqs.get(itt);
        if (r && r.due > 0) r.due--;
        break;
      }
      default:
        break;
    }
    // RFC 7143 §6.3 (3720): a rejected command's CmdSN is not received; plug the gap.
    if (info.nonImmediateCommand && snLessEq(p.bhs.readUInt32BE(28), info.cmdSN) && !this.ending && this.phase === 'ffp') {
      const plugItt = this.allocItt();
      this.send(nopOutBhs({ immediate: false, itt: plugItt, ttt: NO_TAG, cmdSN: info.cmdSN, expStatSN: this.expStatSN, dataLength: 0 }), {
        window: 'in',
        note: `plugs the CmdSN ${info.cmdSN} of the rejected PDU`,
      });
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.trace.add('-- connection closed');
    for (const w of [...this.waiters]) w.resolve(undefined);
    for (const c of this.closeWaiters.splice(0)) c();
  }

  // ------------------------------------------------------------------ the end of a case

  private owedTasks(): TaskModel[] {
    return [...this.tasks.values()].filter(
      (t) =>
        t.instances > t.statuses &&
        !t.gone &&
        !t.aborted &&
        !t.hung &&
        !t.broken &&
        !t.dubious &&
        !t.neverRun &&
        !t.unsolOpen &&
        [...t.r2ts.values()].every((r) => r.closed),
    );
  }

  /** An ABORT TASK for `t`; its response is owed like any other. */
  async abortTask(t: TaskModel): Promise<void> {
    const itt = this.allocItt();
    let response: number | undefined;
    const sn = await this.nextCmdSN(true);
    const head = tmfBhs({ immediate: true, fn: 1, lun: 0, itt, refItt: t.itt, cmdSN: sn, expStatSN: this.expStatSN, refCmdSN: t.cmdSN });
    t.lunField.copy(head, 8);
    this.send(head, { note: `abort the unfinished task ${t.itt.toString(16)}` });
    const r = this.reqs.get(itt);
    if (r) r.onAnswer = (p) => (response = p.bhs[2]);
    await this.waitPdu((p) => opOf(p.bhs) === Opcode.TMF_RSP && ittOf(p.bhs) === itt);
    if (response === 0) t.aborted = true;
    else if (response === 1) t.gone = true;
  }

  /**
   * End the case: do what the initiator still owes (unsolicited data, R2T answers) for every
   * command it can complete, abort the ones it cannot, then wait for every answer the target
   * owes. An answer missing after answerMs is a hang (assertion f); the connection closing
   * settles everything.
   */
  async settle(): Promise<void> {
    if (this.outOfStep) return;
    if (!this.closed && this.phase === 'ffp' && !this.ending) {
      for (const t of this.tasks.values()) {
        if (t.instances <= t.statuses || t.gone || t.broken || t.dubious || t.neverRun) continue;
        t.auto = true;
        if (t.unsolOpen) this.completeUnsolicited(t);
        for (const [ttt, r] of t.r2ts) if (!r.closed) this.completeR2t(t, ttt);
      }
      // What cannot complete goes first: it may hold the target's write budget or block ORDERED tasks.
      await this.abortUnfinished((t) => !!(t.broken || t.dubious));
      await this.waitOwed();
      await this.abortUnfinished((t) => t.hung || t.unsolOpen || [...t.r2ts.values()].some((r) => !r.closed));
    }
    await this.waitOwed();
    if (!this.closed) {
      for (const x of this.expectations) if (!x.done) this.fail('rfc', `no ${x.desc}`);
    } else {
      for (const x of this.expectations) if (!x.done && !x.closeOk) this.fail('rfc', `the connection closed instead of ${x.desc}`);
    }
  }

  private async abortUnfinished(which: (t: TaskModel) => boolean): Promise<void> {
    for (const t of [...this.tasks.values()]) {
      if (this.closed || this.ending) return;
      const unfinished = t.instances > t.statuses && !t.gone && !t.aborted && !t.neverRun;
      if (unfinished && which(t)) await this.abortTask(t);
    }
  }

  /** Wait until nothing is owed, the connection closes, or each owed thing times out. */
  private async waitOwed(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const now = Date.now();
      const tasks = this.owedTasks();
      for (const t of tasks) t.waitingSince ??= now;
      const reqs = [...this.reqs.values()].filter((r) => r.owed && r.due > 0 && !r.hung);
      const exps = this.expectations.filter((x) => !x.done);
      if (tasks.length === 0 && reqs.length === 0 && exps.length === 0) return;
      let next = Infinity;
      // Owed answers may take answerMs of silence: a target busy sending (30 READs of 8 MiB) is not hung.
      const from = (since: number): number => Math.max(since, this.lastProgress);
      for (const t of tasks) {
        if (now - from(t.waitingSince!) >= this.answerMs) {
          t.hung = true;
          const r2ts = [...t.r2ts.values()].map((r) => `${r.offset}+${r.length} sent ${r.sent}${r.closed ? ' F' : ''}`).join(', ');
          this.fail(
            'hang',
            `${this.ctx.meanwhile()}no status for ITT ${t.itt.toString(16)} (cdb ${t.cdb.slice(0, 20)}, EDTL ${t.edtl}${t.write ? `, unsolicited ${t.unsolSent}, R2Ts [${r2ts}]` : ''}) ${this.answerMs} ms after the initiator had sent all it owed and the connection fell silent`,
          );
        } else next = Math.min(next, from(t.waitingSince!) + this.answerMs);
      }
      for (const r of reqs) {
        if (now - from(r.since) >= this.answerMs) {
          r.hung = true;
          this.fail('hang', `${this.ctx.meanwhile()}no answer to ${r.desc} within ${this.answerMs} ms`);
        } else next = Math.min(next, from(r.since) + this.answerMs);
      }
      for (const x of exps) {
        if (now - from(x.since) >= this.answerMs) {
          x.done = true;
          this.fail('rfc', `no ${x.desc} within ${this.answerMs} ms`);
        } else next = Math.min(next, from(x.since) + this.answerMs);
      }
      if (next === Infinity) continue;
      // Any PDU may settle something: re-evaluate on each one, or at the next deadline.
      await this.waitPdu(() => true, Math.max(1, next - Date.now()), this.history.length);
    }
  }

  close(): void {
    this.socket.destroy();
    this.onClose();
  }
}

function bidiLength(ahs: Buffer | undefined): number {
  if (!ahs) return 0;
  for (let off = 0; off + 4 <= ahs.length; ) {
    const len = ahs.readUInt16BE(off);
    if (ahs[off + 2] === 2 && len === 5 && off + 8 <= ahs.length) return ahs.readUInt32BE(off + 4);
    off = (off + 3 + len + 3) & ~3;
    if (len === 0) break;
  }
  return 0;
}

function opName(op: number): string {
  return (
    {
      [Opcode.NOP_IN]: 'NOP-In',
      [Opcode.SCSI_RSP]: 'SCSI Response',
      [Opcode.TMF_RSP]: 'TMF Response',
      [Opcode.LOGIN_RSP]: 'Login Response',
      [Opcode.TEXT_RSP]: 'Text Response',
      [Opcode.DATA_IN]: 'Data-In',
      [Opcode.LOGOUT_RSP]: 'Logout Response',
      [Opcode.R2T]: 'R2T',
      [Opcode.ASYNC]: 'Async Message',
      [Opcode.REJECT]: 'Reject',
    } as Record<number, string>
  )[op] ?? `opcode 0x${op.toString(16)}`;
}
