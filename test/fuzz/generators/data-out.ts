/**
 * SCSI Data-Out PDUs (RFC 7143 §11.7): answers to R2Ts with the right and wrong TTT, wrong
 * offsets and DataSNs, the F bit early (and a zero-length final PDU), duplicates, data past
 * EDTL, unsolicited data past FirstBurstLength or after the burst ended, Data-Out for tags
 * never used, for a command that is already executing or answered, and data cut into 1-byte
 * PDUs.
 */
import type { FuzzSession, TaskModel } from '../session.js';
import { NO_TAG, Opcode, dataOutBhs, ittOf, opOf, type RxPdu } from '../wire.js';
import { simpleRw } from './cdb.js';
import { command } from './command.js';
import type { GenContext, Generator } from './types.js';

function dataOut(s: FuzzSession, t: TaskModel, f: { ttt: number; offset: number; length: number; dataSN: number; final: boolean; itt?: number; note?: string }): void {
  const head = dataOutBhs({ final: f.final, lun: 0, itt: f.itt ?? t.itt, ttt: f.ttt, expStatSN: s.expStatSN, dataSN: f.dataSN, offset: f.offset, dataLength: f.length });
  t.lunField.copy(head, 8);
  s.send(head, { data: Buffer.alloc(f.length, 0xd0), note: f.note });
}

const isStatus = (p: RxPdu, itt: number): boolean =>
  ittOf(p.bhs) === itt && (opOf(p.bhs) === Opcode.SCSI_RSP || (opOf(p.bhs) === Opcode.DATA_IN && (p.bhs[1]! & 1) !== 0));

/** The next R2T for `t` (or its status, or nothing) after `since`. */
async function nextR2t(s: FuzzSession, t: TaskModel, since: number): Promise<RxPdu | undefined> {
  return s.waitPdu((p) => ittOf(p.bhs) === t.itt && (opOf(p.bhs) === Opcode.R2T || isStatus(p, t.itt)), s.answerMs, since);
}

/** A WRITE on the plain target's file or null LUN, driven by hand (R2Ts not answered for us). */
async function manualWrite(
  g: GenContext,
  wantUnsolicited: boolean,
): Promise<{ s: FuzzSession; t: TaskModel; since: number } | undefined> {
  const r = g.r;
  const s = await g.session({ kind: 'plain', neg: wantUnsolicited ? { initialR2T: false } : { initialR2T: r.bool(0.5) } });
  if (!s) return undefined;
  const lun = r.pick([0, 1]);
  const blocks = r.weighted<number>([
    [3, r.int(1, 64)],
    [2, r.int(65, 1024)],
    [1, r.int(1025, 4096)],
  ]);
  const c = simpleRw(r, { blocks: lun === 0 ? g.slot.fileLunBlocks : g.slot.nullLunBlocks, maxWriteBytes: 1 << 21 }, true, blocks);
  const since = s.mark();
  const t = await command(s, { lun, cdb: c.cdb, edtl: c.dataOut, read: false, write: true, final: !(wantUnsolicited && !s.params.initialR2T), manual: true, note: c.name });
  return t ? { s, t, since } : undefined;
}

/** Answer the outstanding and every further R2T honestly. */
function finishHonestly(s: FuzzSession, t: TaskModel): void {
  t.auto = true;
  for (const [ttt, r] of t.r2ts) if (!r.closed && !t.broken) s.completeR2t(t, ttt);
}

const r2tMistakes: Generator = {
  name: 'data-out-r2t-mistakes',
  pdu: 'Data-Out',
  async run(g) {
    const r = g.r;
    const w = await manualWrite(g, false);
    if (!w) return;
    const { s, t } = w;
    const p = await nextR2t(s, t, w.since);
    if (!p || opOf(p.bhs) !== Opcode.R2T) return;
    const ttt = p.bhs.readUInt32BE(20);
    const off = p.bhs.readUInt32BE(40);
    const len = p.bhs.readUInt32BE(44);
    const chunk = Math.min(len, s.targetMaxRecv);
    const variant = r.int(0, 6);
    switch (variant) {
      case 0: {
        const wrong = r.pick([NO_TAG, 0, (ttt ^ (1 << r.int(0, 30))) >>> 0, (ttt + 1) >>> 0]);
        dataOut(s, t, { ttt: wrong, offset: off, length: chunk, dataSN: 0, final: chunk >= len, note: `wrong TTT ${wrong.toString(16)}` });
        break;
      }
      case 1: {
        const bad = Math.max(0, off + r.pick([-512, -1, 1, 512, len, t.edtl]));
        dataOut(s, t, { ttt, offset: bad, length: Math.min(chunk, 4096), dataSN: 0, final: r.bool(), note: `offset ${bad} instead of ${off}` });
        break;
      }
      case 2: {
        dataOut(s, t, { ttt, offset: off, length: Math.min(chunk, len), dataSN: r.pick([1, 2, 0xffffffff, 0x80000000]), final: chunk >= len, note: 'wrong DataSN' });
        break;
      }
      case 3: {
        // Duplicate: the same first Data-Out twice.
        const n = Math.min(chunk, len);
        dataOut(s, t, { ttt, offset: off, length: n, dataSN: 0, final: n >= len });
        dataOut(s, t, { ttt, offset: off, length: n, dataSN: 0, final: n >= len, note: 'the same Data-Out again' });
        break;
      }
      case 4: {
        // More than the R2T asked for (past EDTL when it is the last R2T): the sequence in
        // PDUs the target can take, with extra bytes on the last (or in one more PDU).
        const extra = r.int(1, 4096);
        const max = s.targetMaxRecv;
        let at = off;
        let dataSN = 0;
        while (at < off + len + extra) {
          const n = Math.min(max, off + len + extra - at);
          dataOut(s, t, { ttt, offset: at, length: n, dataSN: dataSN++, final: at + n >= off + len + extra, note: at + n > off + len ? `${extra} bytes more than the R2T's ${len}` : undefined });
          at += n;
        }
        break;
      }
      case 5: {
        // A zero-length Data-Out without F in the middle of the sequence, then the data.
        dataOut(s, t, { ttt, offset: off, length: 0, dataSN: 0, final: false, note: 'zero-length Data-Out' });
        break;
      }
      default: {
        // Data-Out for a tag that was never a command, and for a stale TTT.
        const stray = s.allocItt();
        dataOut(s, t, { itt: stray, ttt, offset: 0, length: Math.min(512, chunk), dataSN: 0, final: true, note: 'Data-Out for an ITT never used' });
        dataOut(s, t, { itt: stray, ttt: NO_TAG, offset: 0, length: Math.min(512, chunk), dataSN: 0, final: true, note: 'unsolicited Data-Out for an ITT never used' });
        finishHonestly(s, t);
        break;
      }
    }
  },
};

const earlyFinal: Generator = {
  name: 'data-out-early-f',
  pdu: 'Data-Out',
  async run(g) {
    const r = g.r;
    const w = await manualWrite(g, false);
    if (!w) return;
    const { s, t } = w;
    const p = await nextR2t(s, t, w.since);
    if (!p || opOf(p.bhs) !== Opcode.R2T) return;
    const ttt = p.bhs.readUInt32BE(20);
    const off = p.bhs.readUInt32BE(40);
    const len = p.bhs.readUInt32BE(44);
    // F before all the data the R2T asked for arrived, or a zero-length final Data-Out: the
    // initiator has ended the sequence, the command cannot complete, the target must end it.
    const sent = r.bool(0.3) ? 0 : r.int(0, Math.min(len, s.targetMaxRecv) - 1);
    if (sent > 0 && r.bool(0.5)) {
      dataOut(s, t, { ttt, offset: off, length: sent, dataSN: 0, final: false });
      dataOut(s, t, { ttt, offset: off + sent, length: 0, dataSN: 1, final: true, note: 'zero-length final Data-Out before the end of the R2T' });
    } else {
      dataOut(s, t, { ttt, offset: off, length: sent, dataSN: 0, final: true, note: `F after ${sent} of ${len} bytes` });
    }
    t.auto = true;
  },
};

const unsolicited: Generator = {
  name: 'data-out-unsolicited',
  pdu: 'Data-Out',
  async run(g) {
    const r = g.r;
    const w = await manualWrite(g, true);
    if (!w) return;
    const { s, t } = w;
    const fb = Math.min(s.params.firstBurst, t.edtl);
    const n = Math.min(s.targetMaxRecv, fb);
    const variant = r.int(0, 4);
    switch (variant) {
      case 0:
        // Past FirstBurstLength.
        dataOut(s, t, { ttt: NO_TAG, offset: 0, length: Math.min(fb + r.int(1, 4096), s.targetMaxRecv), dataSN: 0, final: true, note: `unsolicited past FirstBurstLength ${fb}` });
        break;
      case 1:
        dataOut(s, t, { ttt: NO_TAG, offset: r.pick([512, 1, fb]), length: Math.min(n, 512), dataSN: 0, final: false, note: 'unsolicited at a wrong offset' });
        break;
      case 2:
        dataOut(s, t, { ttt: NO_TAG, offset: 0, length: Math.min(n, 512), dataSN: r.pick([1, 7]), final: false, note: 'unsolicited with a wrong DataSN' });
        break;
      case 3:
        // A zero-length final unsolicited PDU: the burst ends with nothing sent (legal: R2Ts follow).
        dataOut(s, t, { ttt: NO_TAG, offset: 0, length: 0, dataSN: 0, final: true, note: 'zero-length final unsolicited Data-Out' });
        t.auto = true;
        break;
      default:
        // The burst ends early (legal), then more unsolicited data after F (not).
        dataOut(s, t, { ttt: NO_TAG, offset: 0, length: Math.min(n, 512), dataSN: 0, final: true, note: 'unsolicited burst ends early' });
        dataOut(s, t, { ttt: NO_TAG, offset: Math.min(n, 512), length: Math.min(n, 512), dataSN: 1, final: true, note: 'unsolicited data after the burst ended' });
        break;
    }
  },
};

const whileExecuting: Generator = {
  name: 'data-out-while-executing',
  pdu: 'Data-Out',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: 'plain', neg: { immediateData: true, initialR2T: r.bool(), firstBurst: 262144, maxBurst: 262144 } });
    if (!s) return;
    const lun = r.pick([0, 1]);
    const max = Math.min(s.params.firstBurst, s.targetMaxRecv, 64 * 512);
    const blocks = r.int(1, Math.max(1, Math.floor(max / 512)));
    const c = simpleRw(r, { blocks: lun === 0 ? g.slot.fileLunBlocks : g.slot.nullLunBlocks, maxWriteBytes: max }, true, blocks);
    if (c.dataOut > max) return;
    // All the data is immediate and F is set: the command runs at once. Data-Out for it now
    // (unsolicited, as if resent) must not give it a second status (issue 9, item 18).
    const t = await command(s, { lun, cdb: c.cdb, edtl: c.dataOut, read: false, write: true, final: true, immediateData: Buffer.alloc(c.dataOut, 0xe1), note: `${c.name}, all data immediate` });
    if (!t) return;
    const copies = r.int(1, 3);
    for (let i = 0; i < copies; i++) {
      dataOut(s, t, { ttt: NO_TAG, offset: r.pick([0, c.dataOut]), length: Math.min(512, c.dataOut), dataSN: i, final: r.bool(0.7), note: 'Data-Out for a command that already has all its data' });
    }
  },
};

const afterStatus: Generator = {
  name: 'data-out-after-status',
  pdu: 'Data-Out',
  async run(g) {
    const r = g.r;
    const w = await manualWrite(g, false);
    if (!w) return;
    const { s, t } = w;
    t.auto = true;
    for (const [ttt, x] of t.r2ts) if (!x.closed) s.completeR2t(t, ttt);
    const done = await s.waitPdu((p) => isStatus(p, t.itt), g.answerMs, w.since);
    if (!done) return;
    const ttt = [...t.r2ts.keys()][0] ?? NO_TAG;
    dataOut(s, t, { ttt, offset: 0, length: Math.min(512, t.edtl), dataSN: r.int(0, 3), final: true, note: 'Data-Out after the status' });
  },
};

const tinyPieces: Generator = {
  name: 'data-out-tiny-pieces',
  pdu: 'Data-Out',
  async run(g) {
    const r = g.r;
    const w = await manualWrite(g, false);
    if (!w) return;
    const { s, t } = w;
    // Every R2T answered in 1..16-byte Data-Out PDUs (correct numbering): legal, and costly per PDU.
    const piece = r.pick([1, 1, 4, 16]);
    let budget = 64 * 1024;
    for (let round = 0; round < 8 && !s.closed; round++) {
      const p = await nextR2t(s, t, w.since);
      if (!p || opOf(p.bhs) !== Opcode.R2T) return;
      const ttt = p.bhs.readUInt32BE(20);
      const x = t.r2ts.get(ttt);
      if (!x || x.closed) {
        w.since = s.mark();
        continue;
      }
      const since = s.mark();
      let dataSN = 0;
      for (let at = x.offset; at < x.offset + x.length; at += piece) {
        const n = Math.min(piece, x.offset + x.length - at);
        if (budget <= 0) {
          s.completeR2t(t, ttt);
          break;
        }
        budget -= n;
        dataOut(s, t, { ttt, offset: at, length: n, dataSN: dataSN++, final: at + n >= x.offset + x.length });
      }
      w.since = since;
    }
  },
};

export const dataOutGenerators: Generator[] = [r2tMistakes, earlyFinal, unsolicited, whileExecuting, afterStatus, tinyPieces];
