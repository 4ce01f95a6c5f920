/**
 * CDBs for the SCSI Command generators: well-formed ones of many opcodes with fields near
 * their limits (LBA at the capacity, transfer length 0 / 1 / MAXIMUM TRANSFER LENGTH, service
 * actions, parameter lists for UNMAP, PR OUT, EXTENDED COPY, MODE SELECT, COMPARE AND WRITE),
 * and random bytes. Each comes with the data directions and lengths it implies, so a generator
 * can send a matching EDTL or a deliberately wrong one.
 */
import type { Rng } from '../rng.js';

export interface CdbChoice {
  readonly name: string;
  readonly cdb: Buffer;
  /** Bytes the CDB asks the initiator to send (WRITE data, parameter list). */
  readonly dataOut: number;
  /** Bytes the CDB may return (READ data, allocation length). */
  readonly dataIn: number;
  /** A parameter list worth sending as the data (else the payload is filler). */
  readonly payload?: Buffer;
}

export interface LuGeometry {
  /** Logical blocks of the LU (512-byte blocks). */
  readonly blocks: number;
  /** Largest write the generator sends for real (bytes). */
  readonly maxWriteBytes: number;
}

const BLOCK = 512;
/** Scatter's MAXIMUM TRANSFER LENGTH: 8 MiB of 512-byte blocks (VPD B0h). */
export const MAX_TRANSFER_BLOCKS = 16384;

function lba(r: Rng, g: LuGeometry, blocks: number): number {
  return r.edgy(0, g.blocks + 8, [g.blocks - 1, g.blocks - blocks, g.blocks, 0xffff, 0x1fffff]);
}

function blocksFor(r: Rng, g: LuGeometry, write: boolean, max = 0xffff): number {
  const cap = write ? Math.max(1, Math.floor(g.maxWriteBytes / BLOCK)) : MAX_TRANSFER_BLOCKS;
  if (r.bool(0.1)) return r.pick([0, MAX_TRANSFER_BLOCKS, MAX_TRANSFER_BLOCKS + 1, Math.min(max, 0xffff)]);
  return Math.min(max, r.edgy(1, cap, [1, 8, 128, 256]));
}

function rw(r: Rng, g: LuGeometry, write: boolean): CdbChoice {
  const size = r.pick([6, 10, 12, 16]);
  const blocks = blocksFor(r, g, write, size === 6 ? 256 : size === 10 ? 0xffff : 0xffffffff);
  const at = lba(r, g, blocks);
  const c = Buffer.alloc(size);
  const flags = r.bool(0.2) ? r.int(0, 255) & 0xfe : r.pick([0, 0x08, 0x10, 0x18]);
  if (size === 6) {
    c[0] = write ? 0x0a : 0x08;
    c.writeUIntBE(at & 0x1fffff, 1, 3);
    c[4] = blocks & 0xff; // 0 means 256
  } else if (size === 10) {
    c[0] = write ? 0x2a : 0x28;
    c[1] = flags;
    c.writeUInt32BE(at >>> 0, 2);
    c.writeUInt16BE(blocks & 0xffff, 7);
  } else if (size === 12) {
    c[0] = write ? 0xaa : 0xa8;
    c[1] = flags;
    c.writeUInt32BE(at >>> 0, 2);
    c.writeUInt32BE(blocks >>> 0, 6);
  } else {
    c[0] = write ? 0x8a : 0x88;
    c[1] = flags;
    c.writeBigUInt64BE(BigInt(at), 2);
    c.writeUInt32BE(blocks >>> 0, 10);
  }
  const n = size === 6 && blocks === 0 ? 256 : blocks;
  const name = `${write ? 'WRITE' : 'READ'}(${size}) lba=${at} blocks=${n}`;
  return write ? { name, cdb: c, dataOut: n * BLOCK, dataIn: 0 } : { name, cdb: c, dataOut: 0, dataIn: n * BLOCK };
}

function verify(r: Rng, g: LuGeometry): CdbChoice {
  const write = r.bool();
  const blocks = blocksFor(r, g, true);
  const c = Buffer.alloc(10);
  c[0] = write ? 0x2e : 0x2f; // WRITE AND VERIFY(10) / VERIFY(10)
  const bytchk = write ? 0 : r.pick([0, 1, 3]);
  c[1] = (bytchk << 1) | (r.bool(0.2) ? 0x10 : 0);
  c.writeUInt32BE(lba(r, g, blocks), 2);
  c.writeUInt16BE(blocks, 7);
  const out = write || bytchk === 1 ? blocks * BLOCK : bytchk === 3 ? BLOCK : 0;
  return { name: write ? 'WRITE AND VERIFY(10)' : `VERIFY(10) bytchk=${bytchk}`, cdb: c, dataOut: out, dataIn: 0 };
}

function compareAndWrite(r: Rng, g: LuGeometry): CdbChoice {
  const blocks = r.edgy(0, 260, [1, 255, 256]);
  const c = Buffer.alloc(16);
  c[0] = 0x89;
  c.writeBigUInt64BE(BigInt(lba(r, g, blocks)), 2);
  c[13] = blocks & 0xff;
  return { name: `COMPARE AND WRITE blocks=${blocks & 0xff}`, cdb: c, dataOut: 2 * (blocks & 0xff) * BLOCK, dataIn: 0 };
}

function unmap(r: Rng, g: LuGeometry): CdbChoice {
  const n = r.edgy(0, 40, [1, 2]);
  const list = Buffer.alloc(8 + 16 * n);
  list.writeUInt16BE(list.length - 2, 0);
  list.writeUInt16BE(16 * n, 2);
  for (let i = 0; i < n; i++) {
    const blocks = r.edgy(0, 4096, [1]);
    list.writeBigUInt64BE(BigInt(lba(r, g, blocks)), 8 + 16 * i);
    list.writeUInt32BE(blocks, 16 + 16 * i);
  }
  if (r.bool(0.2)) list.writeUInt16BE(r.int(0, 0xffff), r.pick([0, 2]));
  const c = Buffer.alloc(10);
  c[0] = 0x42;
  c[1] = r.bool(0.1) ? 1 : 0; // ANCHOR
  const len = r.bool(0.85) ? list.length : r.edgy(0, 0xffff, [7, 8, 23, 24]);
  c.writeUInt16BE(len, 7);
  return { name: `UNMAP ${n} descriptors len=${len}`, cdb: c, dataOut: len, dataIn: 0, payload: list };
}

function writeSame(r: Rng, g: LuGeometry): CdbChoice {
  const sixteen = r.bool();
  const blocks = r.edgy(0, 70000, [1, 0xffff]);
  const c = Buffer.alloc(sixteen ? 16 : 10);
  c[0] = sixteen ? 0x93 : 0x41;
  c[1] = r.pick([0, 0x08, 0x10, 0x01]); // UNMAP, ANCHOR, NDOB
  if (sixteen) {
    c.writeBigUInt64BE(BigInt(lba(r, g, blocks)), 2);
    c.writeUInt32BE(blocks, 10);
  } else {
    c.writeUInt32BE(lba(r, g, blocks), 2);
    c.writeUInt16BE(blocks & 0xffff, 7);
  }
  return { name: `WRITE SAME(${sixteen ? 16 : 10}) blocks=${blocks}`, cdb: c, dataOut: (c[1]! & 1) !== 0 && sixteen ? 0 : BLOCK, dataIn: 0 };
}

function prOut(r: Rng): CdbChoice {
  const sa = r.edgy(0, 0x1f, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const list = Buffer.alloc(24);
  list.writeBigUInt64BE(r.pick([0n, 1n, 0x1234n, 0xffffffffffffffffn]), 0);
  list.writeBigUInt64BE(r.pick([0n, 1n, 0x1234n, 0x5678n]), 8);
  list[20] = r.pick([0, 1, 4, 5, 0xff]); // SPEC_I_PT, ALL_TG_PT, APTPL
  const c = Buffer.alloc(10);
  c[0] = 0x5f;
  c[1] = sa;
  c[2] = r.pick([0x01, 0x03, 0x05, 0x06, 0x07, 0x08, 0x00, 0x0f]); // scope/type
  const len = r.bool(0.85) ? 24 : r.edgy(0, 4096, [0, 23, 25]);
  c.writeUInt32BE(len, 5);
  return { name: `PERSISTENT RESERVE OUT sa=${sa} len=${len}`, cdb: c, dataOut: len, dataIn: 0, payload: list };
}

function prIn(r: Rng): CdbChoice {
  const c = Buffer.alloc(10);
  c[0] = 0x5e;
  c[1] = r.edgy(0, 0x1f, [0, 1, 2, 3]);
  const alloc = r.edgy(0, 0xffff, [8, 24]);
  c.writeUInt16BE(alloc, 7);
  return { name: `PERSISTENT RESERVE IN sa=${c[1]}`, cdb: c, dataOut: 0, dataIn: alloc };
}

/** EXTENDED COPY (LID1): two identification descriptors and block-to-block segments, or junk. */
function xcopy(r: Rng, g: LuGeometry): CdbChoice {
  const targets = r.edgy(0, 3, [2]);
  const segments = r.edgy(0, 3, [1]);
  const tdLen = 32 * targets;
  const sdLen = 28 * segments;
  const list = Buffer.alloc(16 + tdLen + sdLen);
  list[0] = r.int(0, 255); // LIST IDENTIFIER
  list[1] = r.pick([0, 0x18, 0x20]); // STR, LIST ID USAGE
  list.writeUInt16BE(tdLen, 2);
  list.writeUInt32BE(sdLen, 8);
  for (let i = 0; i < targets; i++) {
    const d = 16 + 32 * i;
    list[d] = r.pick([0xe4, 0xe4, 0x02, 0xff]); // identification descriptor target descriptor
    list[d + 1] = 0x00; // peripheral type 0
    list[d + 4] = 0x01; // code set binary
    list[d + 5] = 0x03; // association LU, NAA
    list[d + 7] = 0x10;
    list[d + 8] = 0x60 | r.int(0, 15); // NAA 6 (probably not ours: a copy to an unknown LU)
    list.writeUInt32BE(BLOCK, d + 28);
  }
  for (let i = 0; i < segments; i++) {
    const d = 16 + tdLen + 28 * i;
    list[d] = r.pick([0x02, 0x02, 0x0a, 0x1f]); // block -> block
    list.writeUInt16BE(0x18, d + 2);
    list.writeUInt16BE(0, d + 4);
    list.writeUInt16BE(targets > 1 ? 1 : 0, d + 6);
    list.writeUInt16BE(r.edgy(0, 0xffff, [1, 8]), d + 10);
    list.writeBigUInt64BE(BigInt(lba(r, g, 8)), d + 12);
    list.writeBigUInt64BE(BigInt(lba(r, g, 8)), d + 20);
  }
  const c = Buffer.alloc(16);
  c[0] = 0x83;
  c[1] = r.bool(0.9) ? 0x00 : r.int(1, 0x1f);
  const len = r.bool(0.85) ? list.length : r.edgy(0, 0x10000, [15, 16]);
  c.writeUInt32BE(len, 10);
  return { name: `EXTENDED COPY ${targets} targets ${segments} segments len=${len}`, cdb: c, dataOut: len, dataIn: 0, payload: list };
}

function modeSelect(r: Rng): CdbChoice {
  const ten = r.bool();
  const page = r.pick([
    Buffer.from([0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), // caching, WCE
    Buffer.from([0x0a, 0x0a, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0]), // control
    Buffer.from([0x3f, 0x00]),
  ]);
  const header = Buffer.alloc(ten ? 8 : 4);
  const list = Buffer.concat([header, page]);
  const c = Buffer.alloc(ten ? 10 : 6);
  c[0] = ten ? 0x55 : 0x15;
  c[1] = r.pick([0x10, 0x11, 0x00]); // PF, SP
  const len = r.bool(0.85) ? list.length : r.edgy(0, 255, [1, 3]);
  if (ten) c.writeUInt16BE(len, 7);
  else c[4] = len & 0xff;
  return { name: `MODE SELECT(${ten ? 10 : 6}) len=${len}`, cdb: c, dataOut: ten ? len : len & 0xff, dataIn: 0, payload: list };
}

function writeAtomic(r: Rng, g: LuGeometry): CdbChoice {
  const blocks = r.edgy(0, 300, [1, 8]);
  const c = Buffer.alloc(16);
  c[0] = 0x9c;
  c.writeBigUInt64BE(BigInt(lba(r, g, blocks)), 2);
  c.writeUInt16BE(blocks, 12);
  return { name: `WRITE ATOMIC(16) blocks=${blocks}`, cdb: c, dataOut: blocks * BLOCK, dataIn: 0 };
}

/** Commands without data-out and with an allocation length. */
function dataInCommand(r: Rng, g: LuGeometry): CdbChoice {
  const alloc = r.edgy(0, 0xffff, [0, 1, 4, 36, 252, 255, 256]);
  const kinds: (() => CdbChoice)[] = [
    () => {
      const c = Buffer.from([0x12, 0, 0, 0, 0, 0]);
      if (r.bool(0.6)) {
        c[1] = 1;
        c[2] = r.pick([0x00, 0x80, 0x83, 0x86, 0x89, 0x8f, 0xb0, 0xb1, 0xb2, 0xb3, 0x42]);
      }
      c.writeUInt16BE(alloc, 3);
      return { name: `INQUIRY evpd=${c[1]} page=${c[2]!.toString(16)}`, cdb: c, dataOut: 0, dataIn: alloc };
    },
    () => {
      const c = Buffer.alloc(12);
      c[0] = 0xa0;
      c[2] = r.pick([0, 1, 2, 0x10, 0xff]);
      c.writeUInt32BE(alloc, 6);
      return { name: 'REPORT LUNS', cdb: c, dataOut: 0, dataIn: alloc };
    },
    () => ({ name: 'TEST UNIT READY', cdb: Buffer.alloc(6), dataOut: 0, dataIn: 0 }),
    () => ({ name: 'REQUEST SENSE', cdb: Buffer.from([0x03, r.pick([0, 1]), 0, 0, alloc & 0xff, 0]), dataOut: 0, dataIn: alloc & 0xff }),
    () => {
      const ten = r.bool();
      const c = Buffer.alloc(ten ? 10 : 6);
      c[0] = ten ? 0x5a : 0x1a;
      c[1] = r.pick([0, 0x08]);
      c[2] = r.pick([0x08, 0x0a, 0x1c, 0x3f, 0x00, 0xc8]);
      if (ten) c.writeUInt16BE(alloc, 7);
      else c[4] = alloc & 0xff;
      return { name: `MODE SENSE(${ten ? 10 : 6}) page=${c[2]!.toString(16)}`, cdb: c, dataOut: 0, dataIn: ten ? alloc : alloc & 0xff };
    },
    () => ({ name: 'READ CAPACITY(10)', cdb: Buffer.from([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]), dataOut: 0, dataIn: 8 }),
    () => {
      const c = Buffer.alloc(16);
      c[0] = 0x9e;
      c[1] = r.pick([0x10, 0x12, 0x1f]); // READ CAPACITY(16), GET LBA STATUS, junk
      c.writeBigUInt64BE(BigInt(lba(r, g, 1)), 2);
      c.writeUInt32BE(alloc, 10);
      return { name: `SERVICE ACTION IN(16) sa=${c[1]! & 0x1f}`, cdb: c, dataOut: 0, dataIn: alloc };
    },
    () => {
      const c = Buffer.alloc(12);
      c[0] = 0xa3;
      c[1] = r.pick([0x0c, 0x0d, 0x0a, 0x1f]); // REPORT SUPPORTED OPCODES / TMFS, junk
      c[2] = r.pick([0, 1, 2, 3, 0x80]);
      c[3] = r.int(0, 255);
      c.writeUInt32BE(alloc, 6);
      return { name: `MAINTENANCE IN sa=${c[1]}`, cdb: c, dataOut: 0, dataIn: alloc };
    },
    () => {
      const c = Buffer.alloc(10);
      c[0] = 0x4d;
      c[2] = r.pick([0x40, 0x00, 0x0d, 0x2f, 0x3f]);
      c.writeUInt16BE(alloc, 7);
      return { name: 'LOG SENSE', cdb: c, dataOut: 0, dataIn: alloc };
    },
    () => {
      const c = Buffer.alloc(16);
      c[0] = 0x84; // RECEIVE COPY RESULTS
      c[1] = r.pick([0, 3, 4, 5, 0x1f]);
      c.writeUInt32BE(alloc, 10);
      return { name: 'RECEIVE COPY RESULTS', cdb: c, dataOut: 0, dataIn: alloc };
    },
    () => {
      const c = Buffer.alloc(10);
      c[0] = 0x37; // READ DEFECT DATA(10)
      c[2] = r.int(0, 0x1f);
      c.writeUInt16BE(alloc, 7);
      return { name: 'READ DEFECT DATA(10)', cdb: c, dataOut: 0, dataIn: alloc };
    },
    () => prIn(r),
  ];
  return r.pick(kinds)();
}

/** Commands without data in either direction. */
function noDataCommand(r: Rng, g: LuGeometry): CdbChoice {
  const kinds: (() => CdbChoice)[] = [
    () => {
      const c = Buffer.alloc(10);
      c[0] = 0x35;
      c[1] = r.pick([0, 2, 4]);
      c.writeUInt32BE(lba(r, g, 8), 2);
      c.writeUInt16BE(r.edgy(0, 0xffff, [0, 8]), 7);
      return { name: 'SYNCHRONIZE CACHE(10)', cdb: c, dataOut: 0, dataIn: 0 };
    },
    () => {
      const c = Buffer.alloc(16);
      c[0] = 0x91;
      c.writeBigUInt64BE(BigInt(lba(r, g, 8)), 2);
      return { name: 'SYNCHRONIZE CACHE(16)', cdb: c, dataOut: 0, dataIn: 0 };
    },
    () => ({ name: 'START STOP UNIT', cdb: Buffer.from([0x1b, r.pick([0, 1]), 0, 0, r.pick([0, 1, 2, 3, 0x10]), 0]), dataOut: 0, dataIn: 0 }),
    () => ({ name: 'PREVENT ALLOW MEDIUM REMOVAL', cdb: Buffer.from([0x1e, 0, 0, 0, r.int(0, 3), 0]), dataOut: 0, dataIn: 0 }),
    () => {
      const c = Buffer.alloc(10);
      c[0] = 0x34; // PRE-FETCH(10)
      c[1] = r.pick([0, 2]);
      c.writeUInt32BE(lba(r, g, 8), 2);
      c.writeUInt16BE(r.edgy(0, 0xffff, [8]), 7);
      return { name: 'PRE-FETCH(10)', cdb: c, dataOut: 0, dataIn: 0 };
    },
    () => ({ name: 'RESERVE(6)', cdb: Buffer.from([0x16, 0, 0, 0, 0, 0]), dataOut: 0, dataIn: 0 }),
    () => ({ name: 'RELEASE(6)', cdb: Buffer.from([0x17, 0, 0, 0, 0, 0]), dataOut: 0, dataIn: 0 }),
    () => {
      // SANITIZE with IMMED: OVERWRITE needs a parameter list; BLOCK ERASE / EXIT FAILURE MODE do not.
      const sa = r.pick([0x01, 0x02, 0x1f, 0x03]);
      const c = Buffer.alloc(10);
      c[0] = 0x48;
      c[1] = 0x80 | sa;
      if (sa === 0x01) {
        c.writeUInt16BE(8, 7);
        return { name: 'SANITIZE OVERWRITE', cdb: c, dataOut: 8, dataIn: 0, payload: Buffer.from([0x01, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef]) };
      }
      return { name: `SANITIZE sa=${sa}`, cdb: c, dataOut: 0, dataIn: 0 };
    },
  ];
  return r.pick(kinds)();
}

/** Random bytes with a random (often real) opcode. */
function junk(r: Rng): CdbChoice {
  const len = r.pick([6, 10, 12, 16, 16, r.int(1, 16)]);
  const c = r.bytes(len);
  if (r.bool(0.5)) c[0] = r.pick([0x28, 0x2a, 0x88, 0x8a, 0x12, 0xa0, 0x5f, 0x83, 0x89, 0x42, 0x7f, 0x9e, 0xa3, 0x48, 0xc0, 0xff]);
  return { name: `junk opcode 0x${c[0]!.toString(16)}`, cdb: c, dataOut: r.bool(0.3) ? r.int(0, 65536) : 0, dataIn: r.int(0, 65536) };
}

export function randomCdb(r: Rng, g: LuGeometry): CdbChoice {
  return r.weighted<() => CdbChoice>([
    [14, () => rw(r, g, false)],
    [14, () => rw(r, g, true)],
    [3, () => verify(r, g)],
    [4, () => compareAndWrite(r, g)],
    [4, () => unmap(r, g)],
    [3, () => writeSame(r, g)],
    [4, () => prOut(r)],
    [4, () => xcopy(r, g)],
    [3, () => modeSelect(r)],
    [2, () => writeAtomic(r, g)],
    [12, () => dataInCommand(r, g)],
    [6, () => noDataCommand(r, g)],
    [6, () => junk(r)],
  ])();
}

/** A READ or WRITE(10) that is certainly valid: LBA inside, a modest length. */
export function simpleRw(r: Rng, g: LuGeometry, write: boolean, maxBlocks = 128): CdbChoice {
  const blocks = r.int(1, maxBlocks);
  const c = Buffer.alloc(10);
  c[0] = write ? 0x2a : 0x28;
  c.writeUInt32BE(r.int(0, g.blocks - blocks), 2);
  c.writeUInt16BE(blocks, 7);
  const name = `${write ? 'WRITE' : 'READ'}(10) blocks=${blocks}`;
  return write ? { name, cdb: c, dataOut: blocks * BLOCK, dataIn: 0 } : { name, cdb: c, dataOut: 0, dataIn: blocks * BLOCK };
}

/** Bytes for the data-out of `c`: its parameter list when it has one, else filler. */
export function payloadFor(c: CdbChoice, length: number, fill: number): Buffer {
  const b = Buffer.alloc(length, fill);
  c.payload?.copy(b, 0, 0, Math.min(length, c.payload.length));
  return b;
}
