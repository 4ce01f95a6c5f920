/**
 * Resource pressure from one session, every step of it legal: a burst of large READs from an
 * initiator that does not read its socket for a while, a flood of immediate commands, and
 * WRITEs that hold their R2T answers back. The target must answer everything in the end and
 * stay inside its memory bound, and the bystanders must not notice (harness assertions d, e).
 */
import { simpleRw } from './cdb.js';
import { command } from './command.js';
import type { Generator } from './types.js';

/** The attack lasts this long; a pause here is the scenario itself, not synchronisation. */
const hold = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const readBurst: Generator = {
  name: 'resource-read-burst',
  pdu: 'SCSI Command (READ), slow reader',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: 'plain', neg: { maxRecv: 262144, maxBurst: 1048576 } });
    if (!s) return;
    const n = r.int(8, 40);
    const blocks = r.pick([16384, 16384, 4096]);
    s.socket.pause();
    for (let i = 0; i < n; i++) {
      const c = Buffer.alloc(16);
      c[0] = 0x88;
      c.writeBigUInt64BE(BigInt(r.int(0, g.slot.nullLunBlocks - blocks)), 2);
      c.writeUInt32BE(blocks, 10);
      await command(s, { lun: 1, cdb: c, edtl: blocks * 512, read: true, write: false, immediate: r.bool(0.7), note: `READ(16) of ${blocks * 512} bytes while not reading` });
    }
    await hold(r.int(500, 2500));
    s.socket.resume();
  },
};

const immediateFlood: Generator = {
  name: 'resource-immediate-flood',
  pdu: 'SCSI Command (immediate)',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: 'plain' });
    if (!s) return;
    const n = r.int(64, 400);
    const geo = { blocks: g.slot.nullLunBlocks, maxWriteBytes: 1 << 16 };
    for (let i = 0; i < n && !s.closed; i++) {
      const c = r.bool(0.5) ? simpleRw(r, geo, false, 256) : { name: 'TEST UNIT READY', cdb: Buffer.alloc(6), dataIn: 0, dataOut: 0 };
      await command(s, { lun: 1, cdb: c.cdb, edtl: c.dataIn, read: c.dataIn > 0, write: false, immediate: true, note: c.name });
    }
  },
};

const writeHold: Generator = {
  name: 'resource-write-hold',
  pdu: 'SCSI Command (WRITE), Data-Out held back',
  async run(g) {
    const r = g.r;
    const s = await g.session({ kind: 'plain', neg: { initialR2T: true, maxBurst: 1048576, firstBurst: 65536 } });
    if (!s) return;
    const n = r.int(2, 12);
    const blocks = 2048; // 1 MiB each: a few of them hold the whole write budget
    for (let i = 0; i < n && !s.closed; i++) {
      const lun = r.pick([0, 1]);
      const cdb = Buffer.alloc(10);
      cdb[0] = 0x2a;
      cdb.writeUInt32BE(r.int(0, (lun === 0 ? g.slot.fileLunBlocks : g.slot.nullLunBlocks) - blocks), 2);
      cdb.writeUInt16BE(blocks, 7);
      await command(s, { lun, cdb, edtl: blocks * 512, read: false, write: true, manual: true, note: 'a 1 MiB WRITE whose R2Ts are not answered yet' });
    }
    // Hold the R2T answers longer than a bystander may wait for a command (harness: 10 s).
    await hold(r.int(2000, 12000));
  },
};

export const resourceGenerators: Generator[] = [readBurst, immediateFlood, writeHold];
