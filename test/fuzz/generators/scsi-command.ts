/**
 * SCSI Command PDUs (RFC 7143 §11.3): every flag combination (F, R, W, ATTR, reserved bits,
 * I), EDTL against the CDB's length, immediate data around FirstBurstLength and the target's
 * MaxRecvDataSegmentLength, AHS good and bad, the reserved ITT, tags in use, CmdSNs outside
 * the window and out of order, odd LUN fields, and CDBs of many opcodes.
 */
import type { FuzzSession, TaskModel } from '../session.js';
import { NO_TAG, Opcode, bidiReadAhs, extendedCdbAhs, ittOf, lunBytes, opOf } from '../wire.js';
import { randomCdb, simpleRw, type LuGeometry } from './cdb.js';
import { command, honestCommand } from './command.js';
import type { GenContext, Generator } from './types.js';

const MAX_WRITE = 2 * 1024 * 1024;

/** A logged-in session on the plain target (sometimes the CHAP one) and the LUNs it can use. */
export async function fuzzSession(g: GenContext): Promise<{ s: FuzzSession; luns: { lun: number; geo: LuGeometry }[] } | undefined> {
  const chap = g.r.bool(0.2);
  const s = await g.session({ kind: chap ? 'chap' : 'plain' });
  if (!s) return undefined;
  const luns = chap
    ? [{ lun: 0, geo: { blocks: g.slot.chapLunBlocks, maxWriteBytes: MAX_WRITE } }]
    : [
        { lun: 0, geo: { blocks: g.slot.fileLunBlocks, maxWriteBytes: MAX_WRITE } },
        { lun: 1, geo: { blocks: g.slot.nullLunBlocks, maxWriteBytes: MAX_WRITE } },
      ];
  return { s, luns };
}

const honestMix: Generator = {
  name: 'scsi-honest-mix',
  pdu: 'SCSI Command',
  async run(g) {
    const f = await fuzzSession(g);
    if (!f) return;
    const n = g.r.int(1, 12);
    for (let i = 0; i < n && !f.s.closed; i++) {
      const { lun, geo } = g.r.pick(f.luns);
      await honestCommand(f.s, g.r, randomCdb(g.r, geo), { lun, immediate: g.r.bool(0.3), attr: g.r.pick([0, 1, 1, 1, 2, 3]) });
    }
  },
};

const flags: Generator = {
  name: 'scsi-flags',
  pdu: 'SCSI Command',
  async run(g) {
    const f = await fuzzSession(g);
    if (!f) return;
    const r = g.r;
    const n = r.int(1, 4);
    for (let i = 0; i < n && !f.s.closed; i++) {
      const { lun, geo } = r.pick(f.luns);
      const choice = randomCdb(r, geo);
      const implied = Math.max(choice.dataOut, choice.dataIn);
      const edtl = r.weighted<number>([
        [4, implied],
        [2, 0],
        [2, Math.max(0, implied - r.int(1, 4096))],
        [2, implied + r.int(1, 65536)],
        [1, 0xffffffff],
        [1, r.int(0, 1 << 24)],
      ]);
      const write = r.bool(choice.dataOut > 0 ? 0.85 : 0.15);
      const read = r.bool(choice.dataIn > 0 ? 0.85 : 0.15);
      const final = r.bool(0.8);
      const immLen = write && r.bool(0.4) ? r.edgy(0, Math.min(edtl, f.s.targetMaxRecv), [f.s.params.firstBurst]) : 0;
      await command(f.s, {
        lun,
        cdb: choice.cdb,
        edtl,
        read,
        write,
        final,
        immediate: r.bool(0.3),
        attr: r.int(0, 7),
        reservedBits: r.bool(0.15) ? 0x18 : 0,
        immediateData: immLen > 0 ? Buffer.alloc(immLen, 0x5c) : undefined,
        note: choice.name,
      });
    }
  },
};

const immediateData: Generator = {
  name: 'scsi-immediate-data',
  pdu: 'SCSI Command',
  async run(g) {
    const f = await fuzzSession(g);
    if (!f) return;
    const r = g.r;
    const s = f.s;
    const { lun, geo } = r.pick(f.luns);
    const blocks = r.int(1, 512);
    const choice = simpleRw(r, geo, true, blocks);
    const edtl = r.weighted<number>([
      [5, choice.dataOut],
      [1, Math.max(1, choice.dataOut - 512)],
      [1, choice.dataOut + 512],
    ]);
    const fb = s.params.firstBurst;
    const mr = s.targetMaxRecv;
    // Around FirstBurstLength, the target's MaxRecvDataSegmentLength and EDTL: below, at, just past.
    const len = r.edgy(1, Math.min(Math.max(fb, mr, edtl) + 4, 1 << 20), [fb, mr, edtl, Math.min(fb, mr, edtl)]);
    await command(s, {
      lun,
      cdb: choice.cdb,
      edtl,
      read: false,
      write: true,
      final: r.bool(0.7),
      immediate: r.bool(0.3),
      immediateData: Buffer.alloc(len, 0x1d),
      note: `${choice.name} with ${len} bytes of immediate data (FirstBurst ${fb}, target MRDSL ${mr})`,
    });
    if (!s.closed && r.bool(0.5)) await honestCommand(s, r, simpleRw(r, geo, r.bool()), { lun });
  },
};

const ahs: Generator = {
  name: 'scsi-ahs',
  pdu: 'SCSI Command',
  async run(g) {
    const f = await fuzzSession(g);
    if (!f) return;
    const r = g.r;
    const s = f.s;
    const { lun, geo } = r.pick(f.luns);
    const base = simpleRw(r, geo, false, 8);
    const variant = r.int(0, 7);
    let cdb = base.cdb;
    let extra: Buffer;
    let dubious: string | undefined = 'a malformed AHS';
    const read = true;
    let write = false;
    switch (variant) {
      case 0: {
        // A valid extended CDB: a variable-length CDB (0x7f) of 17..64 bytes, the rest in AHS type 1.
        cdb = r.bytes(r.int(17, 64));
        cdb[0] = 0x7f;
        extra = extendedCdbAhs(cdb);
        dubious = undefined;
        break;
      }
      case 1:
        // AHSLength running past the AHS area.
        extra = Buffer.from([0x00, 0x40, 0x01, 0x00, 0, 0, 0, 0]);
        break;
      case 2:
        extra = Buffer.from([0x00, 0x00, 0x01, 0x00]);
        break;
      case 3:
        extra = Buffer.from([0x00, 0x05, r.pick([0x00, 0x03, 0x3f, 0x40, 0x7f, 0xff]), 0x00, 1, 2, 3, 4]);
        break;
      case 4:
        extra = bidiReadAhs(r.int(0, 65536), r.pick([4, 6, 0]));
        break;
      case 5:
        // A valid bidirectional read length with R and W both set.
        extra = bidiReadAhs(r.edgy(0, 65536, [512]));
        write = true;
        dubious = undefined;
        break;
      case 6:
        extra = r.bytes(4 * r.int(1, 8));
        break;
      default:
        extra = Buffer.concat([extendedCdbAhs(Buffer.concat([base.cdb, Buffer.alloc(8)])), bidiReadAhs(512)]);
        break;
    }
    await command(s, {
      lun,
      cdb,
      edtl: base.dataIn,
      read,
      write,
      ahs: extra,
      dubious,
      immediate: r.bool(0.3),
      note: `AHS variant ${variant}: ${extra.subarray(0, 16).toString('hex')}`,
    });
    if (!s.closed && r.bool(0.7)) await honestCommand(s, r, simpleRw(r, geo, r.bool()), { lun });
  },
};

const reservedItt: Generator = {
  name: 'scsi-reserved-itt',
  pdu: 'SCSI Command',
  async run(g) {
    const f = await fuzzSession(g);
    if (!f) return;
    const r = g.r;
    const s = f.s;
    const { lun, geo } = r.pick(f.luns);
    const write = r.bool(0.4);
    const choice = r.bool(0.5) ? simpleRw(r, geo, write, 8) : { name: 'TEST UNIT READY', cdb: Buffer.alloc(6), dataOut: 0, dataIn: 0 };
    const imm = choice.dataOut > 0 && s.params.immediateData ? Math.min(choice.dataOut, s.params.firstBurst, s.targetMaxRecv) : 0;
    // RFC 7143 §11.3.4 (ITT), §10.2.1.7: 0xffffffff is reserved; such a command must be refused (Reject 04h/09h).
    await command(s, {
      lun,
      cdb: choice.cdb,
      edtl: Math.max(choice.dataIn, choice.dataOut),
      read: choice.dataIn > 0,
      write: choice.dataOut > 0,
      itt: NO_TAG,
      immediate: r.bool(0.5),
      immediateData: imm > 0 ? Buffer.alloc(imm, 0x77) : undefined,
      expectReject: { why: 'a SCSI Command with the reserved ITT 0xffffffff', closeOk: true },
      note: choice.name,
    });
    if (!s.closed) await honestCommand(s, r, simpleRw(r, geo, false, 8), { lun, note: 'the session still works' });
  },
};

const duplicateItt: Generator = {
  name: 'scsi-duplicate-itt',
  pdu: 'SCSI Command',
  async run(g) {
    const f = await fuzzSession(g);
    if (!f) return;
    const r = g.r;
    const s = f.s;
    const { lun, geo } = r.pick(f.luns);
    // The first command of a new nexus may be answered at once (POWER ON unit attention):
    // reuse the tag only once the target has shown the WRITE is waiting (its first R2T).
    let first: TaskModel | undefined;
    for (let attempt = 0; attempt < 3 && !first && !s.closed; attempt++) {
      const since = s.mark();
      const t = await command(s, { lun, cdb: simpleRw(r, geo, true, 256).cdb, edtl: 256 * 512, read: false, write: true, manual: true, note: 'a WRITE left waiting for its R2T answers' });
      if (!t) return;
      const p = await s.waitPdu((x) => ittOf(x.bhs) === t.itt && (opOf(x.bhs) === Opcode.R2T || opOf(x.bhs) === Opcode.SCSI_RSP), g.answerMs, since);
      if (p && opOf(p.bhs) === Opcode.R2T) first = t;
    }
    if (!first) return;
    const second = simpleRw(r, geo, r.bool(), 8);
    await command(s, {
      lun,
      cdb: second.cdb,
      edtl: Math.max(second.dataIn, second.dataOut),
      read: second.dataIn > 0,
      write: second.dataOut > 0,
      itt: first.itt,
      immediate: r.bool(),
      note: `${second.name} reusing the ITT of the outstanding WRITE`,
    });
  },
};

const cmdsn: Generator = {
  name: 'scsi-cmdsn',
  pdu: 'SCSI Command',
  async run(g) {
    const f = await fuzzSession(g);
    if (!f) return;
    const r = g.r;
    const s = f.s;
    const { lun, geo } = r.pick(f.luns);
    const variant = r.int(0, 3);
    if (variant === 0 || variant === 1) {
      // Far outside [ExpCmdSN, MaxCmdSN] (ahead or behind): RFC 7143 §4.2.2.1 says ignore it.
      const far = variant === 0 ? (s.tgtMaxCmdSN ?? s.cmdSN) + r.int(1000, 0x10000) : s.cmdSN - r.int(1000, 0x10000);
      const c = simpleRw(r, geo, false, 8);
      await command(s, { lun, cdb: c.cdb, edtl: c.dataIn, read: true, write: false, cmdSN: far >>> 0, window: 'out', note: `CmdSN ${far >>> 0} far outside the window` });
    } else if (variant === 2) {
      // Out of order inside the window: both must run, in CmdSN order.
      const a = await s.nextCmdSN(false);
      const b = await s.nextCmdSN(false);
      const ca = simpleRw(r, geo, r.bool(), 8);
      const cb = simpleRw(r, geo, r.bool(), 8);
      await honestCommandAt(s, r, cb, lun, b);
      await honestCommandAt(s, r, ca, lun, a);
    } else {
      // An old CmdSN again (already consumed): ignored.
      const used = await s.nextCmdSN(false);
      const c = simpleRw(r, geo, false, 8);
      await command(s, { lun, cdb: c.cdb, edtl: c.dataIn, read: true, write: false, cmdSN: used, note: 'takes a CmdSN' });
      await s.waitPdu(() => s.tgtExpCmdSN !== undefined && s.tgtExpCmdSN !== used, g.answerMs);
      await command(s, { lun, cdb: c.cdb, edtl: c.dataIn, read: true, write: false, cmdSN: used, window: 'out', note: 'the same CmdSN again' });
    }
    if (!s.closed) await honestCommand(s, r, simpleRw(r, geo, false, 8), { lun, note: 'the window still works' });
  },
};

async function honestCommandAt(s: FuzzSession, r: GenContext['r'], c: ReturnType<typeof simpleRw>, lun: number, cmdSN: number): Promise<void> {
  const write = c.dataOut > 0;
  const imm = write && s.params.immediateData ? Math.min(c.dataOut, s.params.firstBurst, s.targetMaxRecv) : 0;
  await command(s, {
    lun,
    cdb: c.cdb,
    edtl: Math.max(c.dataIn, c.dataOut),
    read: !write,
    write,
    cmdSN,
    immediateData: imm > 0 ? Buffer.alloc(imm, r.int(0, 255)) : undefined,
    note: `${c.name} at CmdSN ${cmdSN}`,
  });
}

const lunField: Generator = {
  name: 'scsi-lun',
  pdu: 'SCSI Command',
  async run(g) {
    const f = await fuzzSession(g);
    if (!f) return;
    const r = g.r;
    const s = f.s;
    const n = r.int(1, 4);
    for (let i = 0; i < n && !s.closed; i++) {
      const geo = f.luns[0]!.geo;
      const lun = r.weighted<number | Buffer>([
        [3, r.edgy(2, 16383, [255, 256])],
        [2, r.bytes(8)],
        [1, Buffer.from([0x40, 0x00, 0, 0, 0, 0, 0, 0])],
        [1, Buffer.from([0xc0, 0x00, 0, 0, 0, 0, 0, 0])],
        [1, Buffer.from([0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0])],
        [1, lunBytes(1)],
      ]);
      const c = r.bool() ? simpleRw(r, geo, r.bool(), 16) : randomCdb(r, geo);
      const write = c.dataOut > 0;
      await command(s, {
        lun,
        cdb: c.cdb,
        edtl: Math.max(c.dataIn, c.dataOut),
        read: !write && c.dataIn > 0,
        write,
        immediate: r.bool(0.3),
        note: `${c.name} LUN field ${(Buffer.isBuffer(lun) ? lun : lunBytes(lun)).toString('hex')}`,
      });
    }
  },
};

const inDiscovery: Generator = {
  name: 'scsi-in-discovery',
  pdu: 'SCSI Command',
  async run(g) {
    const s = await g.session({ kind: 'discovery' });
    if (!s) return;
    const c = randomCdb(g.r, { blocks: g.slot.fileLunBlocks, maxWriteBytes: 65536 });
    // A discovery session carries Text, NOP and Logout only (RFC 7143 §6.3 / §11.1): refuse.
    await command(s, {
      lun: 0,
      cdb: c.cdb,
      edtl: Math.max(c.dataIn, c.dataOut),
      read: c.dataIn > 0 && c.dataOut === 0,
      write: c.dataOut > 0,
      immediate: g.r.bool(),
      dubious: 'a SCSI command in a discovery session',
      expectReject: { why: 'a SCSI Command in a discovery session', closeOk: true },
      note: c.name,
    });
  },
};

export const scsiCommandGenerators: Generator[] = [honestMix, flags, immediateData, ahs, reservedItt, duplicateItt, cmdsn, lunField, inDiscovery];
