/** The relay's PDU counter: framing with and without digests, at every chunk split. */
import { describe, expect, it } from 'vitest';
import { createTap, newTapState } from './pdu-tap.mjs';

function pdu(opcode: number, opts: { flags?: number; itt?: number; ttt?: number; data?: Buffer; status?: number; digests?: boolean }): Buffer {
  const bhs = Buffer.alloc(48);
  bhs[0] = opcode;
  bhs[1] = opts.flags ?? 0x80;
  const data = opts.data ?? Buffer.alloc(0);
  bhs.writeUIntBE(data.length, 5, 3);
  bhs.writeUInt32BE(opts.itt ?? 1, 16);
  bhs.writeUInt32BE(opts.ttt ?? 0xffffffff, 20);
  bhs[36] = opts.status ?? 0;
  const pad = Buffer.alloc((4 - (data.length % 4)) % 4);
  const digest = opts.digests ? Buffer.alloc(4, 0xee) : Buffer.alloc(0);
  return Buffer.concat([bhs, digest, data, pad, data.length > 0 ? digest : Buffer.alloc(0)]);
}

describe('pdu-tap', () => {
  // Login response (T=1, CSG=1, NSG=3) negotiating both digests, then traffic with digests on.
  const loginText = Buffer.from('HeaderDigest=CRC32C\0DataDigest=CRC32C\0MaxRecvDataSegmentLength=262144\0');
  const fromTarget = Buffer.concat([
    pdu(0x23, { flags: 0x87, data: loginText }),
    pdu(0x20, { itt: 0xffffffff, ttt: 7, digests: true }), // target ping
    pdu(0x25, { data: Buffer.alloc(1001, 1), digests: true }), // Data-In, padded
    pdu(0x20, { itt: 5, digests: true }), // answer to an initiator ping
    pdu(0x21, { digests: true }),
  ]);

  it('counts every PDU at any chunk split', () => {
    for (let split = 1; split < fromTarget.length; split += 7) {
      const counts: Record<string, number> = {};
      const tap = createTap(newTapState(), counts, true);
      tap(fromTarget.subarray(0, split));
      tap(fromTarget.subarray(split));
      expect(counts, `split ${split}`).toEqual({ '23': 1, '20': 2, '25': 1, '21': 1, targetPings: 1 });
    }
  });

  it('classifies NOP-Outs as ping answers or initiator pings, with digests shared from the login', () => {
    const state = newTapState();
    createTap(state, {}, true)(pdu(0x23, { flags: 0x87, data: loginText }));
    const counts: Record<string, number> = {};
    const tap = createTap(state, counts, false);
    tap(pdu(0x00, { itt: 0xffffffff, ttt: 7, digests: true }));
    tap(pdu(0x00, { itt: 9, digests: true, data: Buffer.alloc(3) }));
    tap(pdu(0x01, { itt: 10, digests: true }));
    expect(counts).toEqual({ '00': 2, '01': 1, pingAnswers: 1, initiatorPings: 1 });
  });

  it('counts SCSI Command PDUs by CDB opcode when asked, and nothing else', () => {
    const state = newTapState();
    createTap(state, {}, true)(pdu(0x23, { flags: 0x87, data: loginText }));
    const counts: Record<string, number> = {};
    const cdbs: Record<string, number> = {};
    const tap = createTap(state, counts, false, cdbs);
    const command = (op: number, data?: Buffer): Buffer => {
      const b = pdu(0x01, { digests: true, ...(data ? { data } : {}) });
      b[32] = op;
      return b;
    };
    const stream = Buffer.concat([command(0x83, Buffer.alloc(92, 0x83)), command(0x84), pdu(0x00, { itt: 9, digests: true }), command(0x83)]);
    for (let at = 0; at < stream.length; at += 5) tap(stream.subarray(at, at + 5));
    expect(cdbs).toEqual({ '83': 2, '84': 1 });
    expect(counts).toEqual({ '01': 3, '00': 1, initiatorPings: 1 });
  });

  it('keeps digests off when the login did not negotiate them', () => {
    const state = newTapState();
    const counts: Record<string, number> = {};
    const tap = createTap(state, counts, true);
    tap(pdu(0x23, { flags: 0x87, data: Buffer.from('HeaderDigest=None\0DataDigest=None\0') }));
    tap(Buffer.concat([pdu(0x20, { ttt: 3 }), pdu(0x25, { data: Buffer.alloc(10) }), pdu(0x21, {})]));
    expect(counts).toEqual({ '23': 1, '20': 1, '25': 1, '21': 1, targetPings: 1 });
  });
});
