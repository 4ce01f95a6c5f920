/**
 * NOP-Out PDUs (RFC 7143 §11.18): pings with and without data (up to the target's
 * MaxRecvDataSegmentLength, above the initiator's own), every ITT/TTT combination, immediate
 * and not. A ping with a valid ITT is answered by a NOP-In with the same ITT and the same data,
 * which like every PDU must fit the initiator's MaxRecvDataSegmentLength.
 */
import { NO_TAG, Opcode, ittOf, nopOutBhs, opOf } from '../wire.js';
import type { Generator } from './types.js';

const ping: Generator = {
  name: 'nop-out',
  pdu: 'NOP-Out',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: r.pick(['plain', 'plain', 'discovery', 'chap'] as const), neg: { maxRecv: r.pick([512, 1024, 8192, 65536]) } });
    if (!s) return;
    const n = r.int(1, 6);
    for (let i = 0; i < n && !s.closed; i++) {
      const variant = r.int(0, 4);
      const immediate = variant === 3 ? false : r.bool(0.7);
      const len = r.weighted<number>([
        [3, 0],
        [3, r.int(1, 600)],
        [2, r.edgy(1, s.targetMaxRecv, [s.ourMaxRecv, s.ourMaxRecv + 1, s.targetMaxRecv])],
      ]);
      const data = len > 0 ? r.bytes(len) : undefined;
      if (variant <= 1 || variant === 3) {
        // A ping: ITT valid, TTT 0xffffffff.
        const itt = s.allocItt();
        const cmdSN = await s.nextCmdSN(immediate);
        s.send(nopOutBhs({ immediate, itt, ttt: NO_TAG, cmdSN, expStatSN: s.expStatSN, dataLength: len }), { data, note: `ping with ${len} bytes` });
        const want = data ?? Buffer.alloc(0);
        s.expect({
          desc: `a NOP-In echoing the ${len} bytes of ping ITT ${itt.toString(16)}`,
          closeOk: false,
          match: (p) => {
            if (opOf(p.bhs) === Opcode.REJECT && ittOf(p.data) === itt) return true;
            if (opOf(p.bhs) !== Opcode.NOP_IN || ittOf(p.bhs) !== itt) return false;
            // Echo the ping data (RFC 7143 §11.19.4); a target may shorten it only to fit our MaxRecvDataSegmentLength.
            const fits = len <= s.ourMaxRecv;
            if (fits && !p.data.equals(want)) s.fail('rfc', `NOP-In for ping ${itt.toString(16)} did not echo its ${len} bytes (got ${p.data.length})`);
            if (!fits && !want.subarray(0, p.data.length).equals(p.data)) s.fail('rfc', `NOP-In for ping ${itt.toString(16)} returned other data`);
            return true;
          },
        });
      } else if (variant === 2) {
        // ITT 0xffffffff and TTT 0xffffffff: nothing to answer (RFC 7143 §11.18.1); immediate.
        s.send(nopOutBhs({ immediate: true, itt: NO_TAG, ttt: NO_TAG, cmdSN: s.cmdSN, expStatSN: s.expStatSN, dataLength: len }), { data, note: 'NOP-Out needing no answer' });
      } else {
        // An answer to a ping never sent (a TTT the target did not issue), or a valid ITT with a TTT.
        const itt = r.bool() ? NO_TAG : s.allocItt();
        const ttt = r.pick([0, 1, 0x12345, 0x7ffffffe]);
        const dubious = itt !== NO_TAG;
        const cmdSN = await s.nextCmdSN(true);
        s.send(nopOutBhs({ immediate: true, itt, ttt, cmdSN, expStatSN: s.expStatSN, dataLength: len }), {
          data,
          note: `NOP-Out itt=${itt.toString(16)} with TTT ${ttt.toString(16)} the target never sent`,
          dubious: dubious ? 'NOP-Out with both a valid ITT and a TTT' : undefined,
        });
      }
    }
  },
};

export const nopOutGenerators: Generator[] = [ping];
