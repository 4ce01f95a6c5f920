/**
 * Text Requests (RFC 7143 §11.10): SendTargets in discovery and normal sessions (answers long
 * enough to need several PDUs with the C bit, continued with the target's TTT), a request split
 * with the C bit (continued with the TTT the target hands out), garbage text, bad flag
 * combinations, a TTT the target never issued, and the reserved ITT.
 */
import type { FuzzSession } from '../session.js';
import { NO_TAG, Opcode, ittOf, opOf, parseText, textBhs, textData, type RxPdu } from '../wire.js';
import type { GenContext, Generator } from './types.js';

async function textPdu(
  s: FuzzSession,
  f: { itt: number; ttt: number; final: boolean; cont: boolean; data: Buffer; immediate?: boolean; note?: string; expectReject?: string },
): Promise<RxPdu | undefined> {
  const immediate = f.immediate ?? false;
  const cmdSN = await s.nextCmdSN(immediate);
  const since = s.mark();
  s.send(textBhs({ immediate, final: f.final, cont: f.cont, itt: f.itt, ttt: f.ttt, cmdSN, expStatSN: s.expStatSN, dataLength: f.data.length }), {
    data: f.data,
    note: f.note,
    expectReject: f.expectReject ? { why: f.expectReject, closeOk: true } : undefined,
  });
  return s.waitPdu(
    (p) => (opOf(p.bhs) === Opcode.TEXT_RSP && ittOf(p.bhs) === f.itt) || (opOf(p.bhs) === Opcode.REJECT && ittOf(p.data) === f.itt),
    s.answerMs,
    since,
  );
}

/** Send `data` (split with the C bit at `splitAt` when given), follow the answer's continuation; the answer's text. */
async function exchange(s: FuzzSession, data: Buffer, splitAt?: number): Promise<Buffer | undefined> {
  const itt = s.allocItt();
  let p: RxPdu | undefined;
  if (splitAt !== undefined && splitAt > 0 && splitAt < data.length) {
    p = await textPdu(s, { itt, ttt: NO_TAG, final: false, cont: true, data: data.subarray(0, splitAt), note: `request split at byte ${splitAt} (C=1)` });
    if (!p || opOf(p.bhs) !== Opcode.TEXT_RSP) return undefined;
    const ttt = p.bhs.readUInt32BE(20);
    // RFC 7143 §11.10.4: the rest goes with the TTT the target gave (0xffffffff if it gave none).
    p = await textPdu(s, { itt, ttt, final: true, cont: false, data: data.subarray(splitAt), note: 'the rest of the request' });
  } else {
    p = await textPdu(s, { itt, ttt: NO_TAG, final: true, cont: false, data });
  }
  const parts: Buffer[] = [];
  for (let round = 0; p && opOf(p.bhs) === Opcode.TEXT_RSP && round < 200; round++) {
    parts.push(Buffer.from(p.data));
    if ((p.bhs[1]! & 0x80) !== 0) return Buffer.concat(parts);
    p = await textPdu(s, { itt, ttt: p.bhs.readUInt32BE(20), final: true, cont: false, data: Buffer.alloc(0), note: 'continue the answer' });
  }
  return undefined;
}

function targetNames(answer: Buffer): string[] {
  return parseText(answer)
    .filter(([k]) => k === 'TargetName')
    .map(([, v]) => v);
}

const sendTargets: Generator = {
  name: 'text-sendtargets',
  pdu: 'Text Request',
  async run(g: GenContext) {
    const r = g.r;
    const discovery = r.bool(0.6);
    const s = await g.session({ kind: discovery ? 'discovery' : 'plain', neg: { maxRecv: r.pick([512, 512, 1024, 8192]) } });
    if (!s) return;
    const value = discovery ? r.pick(['All', 'All', g.slot.plain, g.slot.unknown, '']) : r.pick(['', g.slot.plain, 'All', g.slot.unknown]);
    const data = textData([['SendTargets', value]]);
    const split = r.bool(0.35) ? r.int(1, data.length - 1) : undefined;
    const answer = await exchange(s, data, split);
    if (!answer) {
      if (!s.closed) s.fail('rfc', `SendTargets=${value}${split ? ` (split at ${split})` : ''} got no complete answer`);
      return;
    }
    const names = targetNames(answer);
    const wanted = value === 'All' && discovery ? g.slot.plain : value === g.slot.plain || (value === '' && !discovery) ? g.slot.plain : undefined;
    if (wanted && !names.includes(wanted)) {
      s.fail('rfc', `SendTargets=${value}${split !== undefined ? ` sent in two PDUs (C bit, continued with the target's TTT)` : ''} answered without TargetName=${wanted}: "${answer.toString('latin1').replace(/\0/g, ' | ').slice(0, 200)}"`);
    }
  },
};

const garbage: Generator = {
  name: 'text-garbage',
  pdu: 'Text Request',
  async run(g: GenContext) {
    const r = g.r;
    const s = await g.session({ kind: r.bool() ? 'discovery' : 'plain' });
    if (!s) return;
    const variant = r.int(0, 7);
    const itt = s.allocItt();
    const bodies: Buffer[] = [
      Buffer.from('NoEqualsSign\0'),
      Buffer.from('Bad Key!=x\0'),
      Buffer.from(`${'K'.repeat(r.int(64, 300))}=v\0`),
      Buffer.from([0x41, 0x3d, 0xff, 0xfe, 0xc3, 0x28, 0x00]),
      Buffer.from('SendTargets=All'),
      Buffer.from(`SendTargets=All\0SendTargets=All\0`),
      textData(Array.from({ length: r.int(1, 200) }, (_, i) => [`X-fuzz-${i}`, 'y'.repeat(r.int(0, 40))] as [string, string])),
      r.bytes(r.int(1, Math.min(s.targetMaxRecv, 4096))),
    ];
    const data = bodies[variant]!;
    const flags = r.weighted<[boolean, boolean]>([
      [6, [true, false]],
      [1, [true, true]],
      [1, [false, false]],
    ]);
    await textPdu(s, { itt, ttt: NO_TAG, final: flags[0], cont: flags[1], data, immediate: r.bool(0.3), note: `garbage variant ${variant} F=${+flags[0]} C=${+flags[1]}` });
    if (!s.closed && r.bool()) await exchange(s, textData([['SendTargets', s.phase === 'ffp' ? '' : 'All']]));
  },
};

const tags: Generator = {
  name: 'text-tags',
  pdu: 'Text Request',
  async run(g: GenContext) {
    const r = g.r;
    const s = await g.session({ kind: r.bool() ? 'discovery' : 'plain' });
    if (!s) return;
    const variant = r.int(0, 2);
    if (variant === 0) {
      // RFC 7143 §11.10.3: ITT 0xffffffff is reserved; the request must be refused (Reject).
      await textPdu(s, { itt: NO_TAG, ttt: NO_TAG, final: true, cont: false, data: textData([['SendTargets', 'All']]), immediate: r.bool(), expectReject: 'a Text Request with the reserved ITT 0xffffffff' });
    } else if (variant === 1) {
      // A TTT the target never handed out.
      await textPdu(s, { itt: s.allocItt(), ttt: r.pick([0, 1, 0x7ffffffe, 0x1234]), final: true, cont: false, data: Buffer.alloc(0), note: 'a TTT never issued' });
    } else {
      // A new request (new ITT, TTT 0xffffffff) while a long answer is half delivered.
      const itt = s.allocItt();
      const p = await textPdu(s, { itt, ttt: NO_TAG, final: true, cont: false, data: textData([['SendTargets', 'All']]) });
      if (p && (p.bhs[1]! & 0x80) === 0) await exchange(s, textData([['SendTargets', 'All']]));
    }
    if (!s.closed) await exchange(s, textData([['SendTargets', g.slot.plain]]));
  },
};

export const textGenerators: Generator[] = [sendTargets, garbage, tags];
