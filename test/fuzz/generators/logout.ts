/**
 * Logout Requests (RFC 7143 §11.14, §11.15): every reason code (0 close the session, 1 close a
 * connection, 2 remove it for recovery, 3-127 reserved), this connection's CID and others,
 * immediate or not, with commands outstanding.
 */
import { Opcode, ittOf, logoutBhs, nopOutBhs, opOf, NO_TAG } from '../wire.js';
import { simpleRw } from './cdb.js';
import { honestCommand } from './command.js';
import type { Generator } from './types.js';

const logout: Generator = {
  name: 'logout',
  pdu: 'Logout Request',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: r.pick(['plain', 'plain', 'discovery', 'chap'] as const) });
    if (!s) return;
    if (!s.isDiscovery && r.bool(0.5)) {
      // A command outstanding or just answered when the logout comes (LUN 0 exists on both targets).
      const blocks = Math.min(g.slot.chapLunBlocks, g.slot.fileLunBlocks);
      await honestCommand(s, r, simpleRw(r, { blocks, maxWriteBytes: 1 << 20 }, r.bool(), 64), { lun: 0 });
    }
    const reason = r.weighted<number>([
      [3, 0],
      [3, 1],
      [1, 2],
      [3, r.edgy(3, 127, [3, 127])],
    ]);
    const otherCid = reason !== 0 && r.bool(0.5);
    const cid = otherCid ? (s.cid + r.int(1, 0xfffe)) & 0xffff : s.cid;
    const immediate = r.bool(0.7);
    const itt = s.allocItt();
    const cmdSN = await s.nextCmdSN(immediate);
    const reserved = reason >= 3;
    const since = s.mark();
    s.send(logoutBhs({ immediate, reason, itt, cid, cmdSN, expStatSN: s.expStatSN }), {
      note: `reason ${reason}${reserved ? ' (reserved)' : ''}, ${otherCid ? `another CID ${cid}` : 'this CID'}`,
      expectReject: reserved ? { why: `a Logout with the reserved reason code ${reason}`, closeOk: false } : undefined,
    });
    if (reserved) {
      // RFC 7143 §11.14.1: 3-127 are reserved: Reject (04h/09h), never a logout.
      const rsp = await s.waitPdu((p) => (opOf(p.bhs) === Opcode.LOGOUT_RSP || opOf(p.bhs) === Opcode.REJECT) && (ittOf(p.bhs) === itt || ittOf(p.data) === itt), g.answerMs, since);
      if (rsp && opOf(rsp.bhs) === Opcode.LOGOUT_RSP) s.fail('rfc', `Logout with the reserved reason ${reason} was carried out (response ${rsp.bhs[2]}) instead of rejected`);
      if (rsp && opOf(rsp.bhs) === Opcode.LOGOUT_RSP) s.ending = true;
      return;
    }
    const rsp = await s.waitPdu((p) => opOf(p.bhs) === Opcode.LOGOUT_RSP && ittOf(p.bhs) === itt, g.answerMs, since);
    if (!rsp) return; // the session reports the missing answer (hang) unless the connection closed
    const code = rsp.bhs[2]!;
    if (reason === 2) {
      // ErrorRecoveryLevel 0: connection recovery is not supported (2), or the CID is unknown (1).
      if (code !== 2 && code !== 1) s.fail('rfc', `Logout reason 2 answered ${code}; at ErrorRecoveryLevel 0 RFC 7143 §11.15.1 gives 2 (or 1: CID not found)`);
      return;
    }
    if (otherCid) {
      // RFC 7143 §11.15.1: a CID this session does not have: "CID not found" (1), and this connection stays.
      if (code !== 1) s.fail('rfc', `Logout (reason ${reason}) for CID ${cid}, not this connection's ${s.cid}: response ${code}, RFC 7143 §11.15.1 wants 1 (CID not found)`);
      if (code === 1) {
        const ping = s.allocItt();
        const psince = s.mark();
        s.send(nopOutBhs({ immediate: true, itt: ping, ttt: NO_TAG, cmdSN: s.cmdSN, expStatSN: s.expStatSN, dataLength: 0 }), { note: 'this connection must still work' });
        const pong = await s.waitPdu((p) => opOf(p.bhs) === Opcode.NOP_IN && ittOf(p.bhs) === ping, g.answerMs, psince);
        if (!pong && s.closed) s.fail('rfc', `the target closed this connection after answering "CID not found" to a Logout for CID ${cid}`);
      } else {
        s.ending = true;
        if (await s.waitClosed(g.answerMs)) s.fail('rfc', `a Logout for another connection's CID ${cid} closed the requesting connection (CID ${s.cid})`);
      }
      return;
    }
    if (code !== 0) s.fail('rfc', `Logout reason ${reason} for this connection answered ${code} instead of 0 (closed successfully)`);
    s.ending = true;
  },
};

export const logoutGenerators: Generator[] = [logout];
