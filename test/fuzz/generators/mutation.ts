/**
 * Byte-level damage to otherwise valid PDUs: bit flips in the BHS, truncated PDUs, a
 * DataSegmentLength that does not match the data, header and data digests that are wrong or
 * missing / present against the negotiation, non-zero padding, TotalAHSLength without an AHS,
 * and plain garbage. Where the framing survives, a ping afterwards must be answered unless the
 * target dropped the connection.
 */
import type { FuzzSession } from '../session.js';
import { NO_TAG, Opcode, ittOf, nopOutBhs, opOf, pduBytes, scsiCommandBhs, textBhs, textData, tmfBhs, logoutBhs, type Damage } from '../wire.js';
import { simpleRw } from './cdb.js';
import type { GenContext, Generator } from './types.js';

interface Built {
  head: Buffer;
  data?: Buffer;
  what: string;
}

function validPdu(g: GenContext, s: FuzzSession): Built {
  const r = g.r;
  const geo = { blocks: g.slot.fileLunBlocks, maxWriteBytes: 1 << 16 };
  switch (r.int(0, 4)) {
    case 0: {
      const len = r.pick([0, 4, 13, 100]);
      return { head: nopOutBhs({ immediate: true, itt: s.allocItt(), ttt: NO_TAG, cmdSN: s.cmdSN, expStatSN: s.expStatSN, dataLength: len }), data: len ? r.bytes(len) : undefined, what: 'NOP-Out' };
    }
    case 1: {
      const c = simpleRw(r, geo, false, 8);
      return { head: scsiCommandBhs({ immediate: true, final: true, read: true, write: false, attr: 1, lun: 0, itt: s.allocItt(), edtl: c.dataIn, cmdSN: s.cmdSN, expStatSN: s.expStatSN, cdb: c.cdb, dataLength: 0 }), what: c.name };
    }
    case 2: {
      const c = simpleRw(r, geo, true, 4);
      const data = Buffer.alloc(Math.min(c.dataOut, s.targetMaxRecv, s.params.firstBurst), 0x3c);
      return {
        head: scsiCommandBhs({ immediate: true, final: true, read: false, write: true, attr: 1, lun: 0, itt: s.allocItt(), edtl: c.dataOut, cmdSN: s.cmdSN, expStatSN: s.expStatSN, cdb: c.cdb, dataLength: s.params.immediateData ? data.length : 0 }),
        data: s.params.immediateData ? data : undefined,
        what: c.name,
      };
    }
    case 3: {
      const data = textData([['SendTargets', g.slot.plain]]);
      return { head: textBhs({ immediate: true, final: true, cont: false, itt: s.allocItt(), ttt: NO_TAG, cmdSN: s.cmdSN, expStatSN: s.expStatSN, dataLength: data.length }), data, what: 'Text' };
    }
    default:
      return r.bool(0.8)
        ? { head: tmfBhs({ immediate: true, fn: 1, lun: 0, itt: s.allocItt(), refItt: 0x4444, cmdSN: s.cmdSN, expStatSN: s.expStatSN, refCmdSN: s.cmdSN }), what: 'TMF' }
        : { head: logoutBhs({ immediate: true, reason: 1, itt: s.allocItt(), cid: s.cid, cmdSN: s.cmdSN, expStatSN: s.expStatSN }), what: 'Logout' };
  }
}

const mutation: Generator = {
  name: 'byte-mutation',
  pdu: 'any (damaged bytes)',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: 'plain', neg: { headerDigest: r.bool(0.5), dataDigest: r.bool(0.5) } });
    if (!s) return;
    const n = r.int(1, 3);
    let framingIntact = true;
    for (let i = 0; i < n && !s.closed && framingIntact; i++) {
      const p = validPdu(g, s);
      const variant = r.int(0, 7);
      s.mutating = true;
      switch (variant) {
        case 0: {
          // Bit flips outside the length fields (bytes 4-7), so the framing holds.
          const head = Buffer.from(p.head);
          for (let k = r.int(1, 4); k > 0; k--) {
            const at = r.pick([0, 1, 2, 3, 8, 9, 12, 15, 16, 19, 20, 23, 24, 27, 28, 31, r.int(32, 47)]);
            head[at]! ^= 1 << r.int(0, 7);
          }
          s.send(head, { data: p.data, note: `${p.what} with bits flipped` });
          break;
        }
        case 1: {
          const bytes = pduBytes(p.head, undefined, p.data, s.digests);
          s.sendRaw(bytes.subarray(0, r.int(1, bytes.length - 1)), `${p.what} truncated`);
          framingIntact = false;
          break;
        }
        case 2: {
          const head = Buffer.from(p.head);
          const dl = r.pick([0, 1, 3, 4, 47, 48, 512, s.targetMaxRecv, s.targetMaxRecv + 1, 0xffffff]);
          head[5] = (dl >> 16) & 0xff;
          head[6] = (dl >> 8) & 0xff;
          head[7] = dl & 0xff;
          s.sendRaw(pduBytes(head, undefined, p.data, s.digests), `${p.what} claiming DataSegmentLength ${dl}, carrying ${p.data?.length ?? 0}`);
          framingIntact = false;
          break;
        }
        case 3: {
          // Digest present against the negotiation or missing although negotiated: out of step.
          const damage: Damage = r.bool() ? { flipHeaderDigest: true } : { flipDataDigest: true };
          s.send(p.head, { data: p.data, damage, note: `${p.what} with a digest ${JSON.stringify(damage)} against HeaderDigest=${s.digests.header} DataDigest=${s.digests.data}` });
          // Only a data digest flipped on a PDU without data leaves the stream in step.
          framingIntact = damage.flipDataDigest === true && !p.data;
          break;
        }
        case 4: {
          const damage: Damage = r.bool() ? { badHeaderDigest: true } : { badDataDigest: true };
          s.send(p.head, { data: p.data, damage, note: `${p.what} with ${damage.badHeaderDigest ? 'a bad header' : 'a bad data'} digest` });
          // A bad header digest: the connection must go (RFC 7143 §7.8); a bad data digest: a Reject.
          if (damage.badHeaderDigest && s.digests.header) framingIntact = false;
          break;
        }
        case 5:
          s.send(p.head, { data: p.data, damage: { dirtyPadding: true }, note: `${p.what} with non-zero padding` });
          break;
        case 6: {
          const head = Buffer.from(p.head);
          head[4] = r.int(1, 255);
          s.sendRaw(pduBytes(head, undefined, p.data, s.digests), `${p.what} with TotalAHSLength ${head[4]} and no AHS`);
          framingIntact = false;
          break;
        }
        default:
          s.sendRaw(r.bytes(r.int(1, 300)), 'garbage');
          framingIntact = false;
          break;
      }
    }
    if (s.closed || !framingIntact) return;
    // The stream is still in step: the target answers a ping, or has closed the connection.
    const itt = s.allocItt();
    s.send(nopOutBhs({ immediate: true, itt, ttt: NO_TAG, cmdSN: s.cmdSN, expStatSN: s.expStatSN, dataLength: 0 }), { note: 'is the connection still in step?' });
    s.expect({ desc: `an answer to ping ${itt.toString(16)} after damaged PDUs`, closeOk: true, match: (p) => opOf(p.bhs) === Opcode.NOP_IN && ittOf(p.bhs) === itt });
  },
};

export const mutationGenerators: Generator[] = [mutation];
