/** Builders for EXTENDED COPY (LID1) parameter lists and a core with several LUs, for the xcopy tests. */
import type { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { makeLu, makeNexus, run, TARGET } from './fixture.js';

/** CSCD identification descriptor (E4h) naming `lu` by its NAA designator (what libiscsi and ESXi send). */
export function cscd(lu: LogicalUnit, over: { type?: number; byte1?: number; blockLength?: number; naa?: Buffer } = {}): Buffer {
  const d = Buffer.alloc(32);
  d[0] = over.type ?? 0xe4;
  d[1] = over.byte1 ?? 0x00;
  d[4] = 0x01; // code set binary
  d[5] = 0x03; // association LU, type NAA
  d[7] = 16;
  (over.naa ?? lu.naaId).copy(d, 8);
  d.writeUIntBE(over.blockLength ?? lu.blockSize, 29, 3);
  return d;
}

/** Block-to-block segment descriptor (02h). */
export function segment(src: number, dst: number, blocks: number, srcLba: number, dstLba: number, type = 0x02): Buffer {
  const d = Buffer.alloc(28);
  d[0] = type;
  d.writeUInt16BE(0x18, 2);
  d.writeUInt16BE(src, 4);
  d.writeUInt16BE(dst, 6);
  d.writeUInt16BE(blocks, 10);
  d.writeBigUInt64BE(BigInt(srcLba), 12);
  d.writeBigUInt64BE(BigInt(dstLba), 20);
  return d;
}

/** Header + descriptors; LIST ID USAGE 00b (status held) unless told. */
export function paramList(targets: Buffer[], segments: Buffer[], listId = 1, usage = 0): Buffer {
  const t = Buffer.concat(targets);
  const s = Buffer.concat(segments);
  const h = Buffer.alloc(16);
  h[0] = listId;
  h[1] = (usage & 3) << 3;
  h.writeUInt16BE(t.length, 2);
  h.writeUInt32BE(s.length, 8);
  return Buffer.concat([h, t, s]);
}

export function xcopyCdb(length: number): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x83;
  c.writeUInt32BE(length, 10);
  return c;
}

export function rcrCdb(sa: number, listId = 0, allocation = 1024): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x84;
  c[1] = sa;
  c[2] = listId;
  c.writeUInt32BE(allocation, 10);
  return c;
}

export interface XcopySetup {
  core: ScsiTargetCore;
  /** LU 0 and 1: 4096 blocks of 512; LU 2: read-only; LU 3: 4096-byte blocks. */
  lus: LogicalUnit[];
  devs: MemDevice[];
}

export async function xcopySetup(): Promise<XcopySetup> {
  const devs = [new MemDevice(8192), new MemDevice(8192), new MemDevice(8192), new MemDevice(1024, 4096)];
  const lus = devs.map((d, lun) => makeLu(d, { lun, readOnly: lun === 2 }));
  const core = new ScsiTargetCore({ targetName: TARGET, luns: lus });
  for (const id of [1, 2]) {
    const nexus = makeNexus(id);
    core.addNexus(nexus);
    for (const lun of [0, 1, 2, 3]) await run(core, [0, 0, 0, 0, 0, 0], { nexus, lun });
  }
  return { core, lus, devs };
}

/** Fills `dev` with a byte pattern that differs per block. */
export function pattern(dev: MemDevice): void {
  for (let i = 0; i < dev.buffer.length; i += 512) dev.buffer.fill((i / 512) % 251, i, i + 512);
}
