/**
 * SNACK Requests (RFC 7143 §11.16; not supported at ErrorRecoveryLevel 0), reserved and
 * vendor-specific initiator opcodes, target opcodes sent by an initiator, and a Login
 * Request in full feature phase: each must be rejected (or the connection dropped), never
 * ignored or taken for something else.
 */
import { bhs, loginBhs, snackBhs } from '../wire.js';
import { simpleRw } from './cdb.js';
import { command } from './command.js';
import type { Generator } from './types.js';

const snack: Generator = {
  name: 'snack',
  pdu: 'SNACK Request',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: 'plain' });
    if (!s) return;
    // Sometimes about a real task: a READ that has been answered, or a WRITE left waiting.
    const geo = { blocks: g.slot.fileLunBlocks, maxWriteBytes: 1 << 20 };
    const write = r.bool();
    const c = simpleRw(r, geo, write, 64);
    const t = await command(s, { lun: 0, cdb: c.cdb, edtl: Math.max(c.dataIn, c.dataOut), read: !write, write, manual: true, note: c.name });
    const type = r.edgy(0, 15, [0, 1, 2, 3]);
    s.send(
      snackBhs({ type, lun: 0, itt: r.bool(0.7) && t ? t.itt : r.u32(), ttt: r.u32(), expStatSN: s.expStatSN, begRun: r.edgy(0, 100, [0, 1]), runLength: r.edgy(0, 100, [0]) }),
      { note: `SNACK type ${type}`, expectReject: { why: `a SNACK (type ${type}) at ErrorRecoveryLevel 0`, closeOk: true } },
    );
  },
};

const unknown: Generator = {
  name: 'opcode-unknown',
  pdu: 'reserved / target opcodes',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: r.bool(0.8) ? 'plain' : 'discovery' });
    if (!s) return;
    const op = r.weighted<number>([
      [3, r.int(0x07, 0x0f)],
      [3, r.int(0x11, 0x1b)],
      [1, r.int(0x1c, 0x1e)],
      [1, 0x1f],
      [3, r.int(0x20, 0x3f)],
    ]);
    const len = r.bool(0.3) ? r.int(1, 512) : 0;
    const head = bhs({ opcode: op, immediate: r.bool(), b1: r.int(0, 255), itt: r.u32(), w20: r.u32(), w24: s.cmdSN, w28: s.expStatSN, dataLength: len, tail: r.bytes(16) });
    s.send(head, { data: len ? r.bytes(len) : undefined, note: `opcode 0x${op.toString(16)}`, expectReject: { why: `opcode 0x${op.toString(16)}`, closeOk: true } });
  },
};

const loginInFfp: Generator = {
  name: 'login-in-full-feature',
  pdu: 'Login Request',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: 'plain' });
    if (!s) return;
    const data = Buffer.from(`InitiatorName=${g.initiatorName}\0AuthMethod=None\0`);
    s.send(
      loginBhs({ transit: r.bool(), cont: false, csg: r.int(0, 3), nsg: r.int(0, 3), versionMax: 0, versionMin: 0, isid: s.isid, tsih: r.pick([0, s.tsih]), itt: s.allocItt(), cid: s.cid, cmdSN: s.cmdSN, expStatSN: s.expStatSN, dataLength: data.length }),
      { data, note: 'a Login Request in full feature phase', expectReject: { why: 'a Login Request in full feature phase', closeOk: true } },
    );
  },
};

export const opcodeGenerators: Generator[] = [snack, unknown, loginInFfp];
