/**
 * What sg_xcopy (sg3-utils 1.46) does, byte for byte, against the core: RECEIVE COPY RESULTS
 * (OPERATING PARAMETERS, 256 bytes), a CSCD E4h descriptor made from the first LU-association
 * designator of VPD 83h (NAA preferred, code set byte masked, DISK BLOCK LENGTH from READ
 * CAPACITY), then one EXTENDED COPY(LID1) per bpt blocks with LIST ID 1, LIST ID USAGE 10b and
 * PRIORITY 1. The e2e scenario (test/e2e/xcopy.e2e.ts) runs the real tool.
 */
import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import type { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import type { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { dataOf, makeNexus, run } from './fixture.js';
import { pattern, rcrCdb, xcopySetup } from './xcopy-fixture.js';

const nexus = makeNexus(1);

/** sg_xcopy's desc_from_vpd_id: NAA (type 3) first, else EUI-64, T10, vendor specific; LU association only. */
async function cscdFromVpd(core: ScsiTargetCore, lun: number, blockSize: number): Promise<Buffer> {
  const head = dataOf(await run(core, [0x12, 0x01, 0x83, 0x00, 0x04, 0x00], { nexus, lun }));
  const len = head.readUInt16BE(2) + 4;
  const page = dataOf(await run(core, [0x12, 0x01, 0x83, len >> 8, len & 0xff, 0x00], { nexus, lun }));
  const rank = (type: number): number => [3, 2, 1, 0].indexOf(type);
  let best: Buffer | undefined;
  for (let at = 4; at + 4 <= page.length; at += 4 + page[at + 3]!) {
    const d = page.subarray(at, at + 4 + page[at + 3]!);
    const assoc = (d[1]! >> 4) & 3;
    const type = d[1]! & 0x0f;
    if (assoc !== 0 || d[3]! > 20 || rank(type) < 0) continue;
    if (!best || rank(type) < rank(best[1]! & 0x0f)) best = d;
  }
  expect(best, 'an LU designator sg_xcopy can use').toBeDefined();
  const desc = Buffer.alloc(32);
  desc[0] = 0xe4;
  best!.copy(desc, 4);
  desc[4]! &= 0x0f;
  desc[5]! &= 0x3f;
  desc.writeUIntBE(blockSize, 29, 3);
  return desc;
}

/** scsi_extended_copy(): header, the two CSCDs, one 02h segment naming CSCD 0 -> 1. */
function sgXcopyList(src: Buffer, dst: Buffer, blocks: number, srcLba: number, dstLba: number): Buffer {
  const p = Buffer.alloc(16 + 64 + 28);
  p[0] = 1; // list_id default
  p[1] = (2 << 3) | 1; // LIST ID USAGE 10b (held data limit 0), PRIORITY 1
  p[3] = 64;
  p[11] = 28;
  src.copy(p, 16);
  dst.copy(p, 48);
  const s = p.subarray(80);
  s[0] = 0x02;
  s.writeUInt16BE(0x18, 2);
  s[7] = 1;
  s.writeUInt16BE(blocks, 10);
  s.writeBigUInt64BE(BigInt(srcLba), 12);
  s.writeBigUInt64BE(BigInt(dstLba), 20);
  return p;
}

/** sg_xcopy's arguments: if= / of= LUs, count=, bpt=, skip=, seek=, and the LU the commands go to. */
interface SgXcopyArgs {
  from: number;
  to: number;
  count: number;
  bpt: number;
  skip: number;
  seek: number;
  onLun: number;
}

async function sgXcopy(core: ScsiTargetCore, lus: LogicalUnit[], o: SgXcopyArgs): Promise<number> {
  const src = await cscdFromVpd(core, o.from, lus[o.from]!.blockSize);
  const dst = await cscdFromVpd(core, o.to, lus[o.to]!.blockSize);
  let commands = 0;
  for (let done = 0; done < o.count; done += o.bpt) {
    const blocks = Math.min(o.bpt, o.count - done);
    const list = sgXcopyList(src, dst, blocks, o.skip + done, o.seek + done);
    const cdb = Buffer.alloc(16);
    cdb[0] = 0x83;
    cdb.writeUInt32BE(list.length, 10);
    const r = await run(core, cdb, { data: list, nexus, lun: o.onLun });
    expect(r.status, `command ${commands}`).toBe(ScsiStatus.GOOD);
    commands++;
  }
  return commands;
}

describe("sg_xcopy's command sequence", () => {
  it('OPERATING PARAMETERS tells sg_xcopy: block-to-block, identification CSCDs, no held data', async () => {
    const s = await xcopySetup();
    const d = dataOf(await run(s.core, rcrCdb(0x03, 0, 256), { nexus }));
    expect(d.readUInt32BE(24)).toBe(0); // HELD DATA LIMIT 0: sg_xcopy picks LIST ID USAGE 10b
    expect(d.readUInt32BE(16)).toBeGreaterThan(0); // MAXIMUM SEGMENT LENGTH: sg_xcopy's default bpt
    expect([...d.subarray(44, 44 + d[43]!)]).toEqual([0x02, 0xe4]);
  });

  it('copies LU 0 -> 1 in bpt-sized commands from descriptors built off VPD 83h', async () => {
    const s = await xcopySetup();
    pattern(s.devs[0]!);
    const commands = await sgXcopy(s.core, s.lus, { from: 0, to: 1, count: 500, bpt: 128, skip: 100, seek: 3001, onLun: 1 });
    expect(commands).toBe(4);
    expect(s.devs[1]!.buffer.subarray(3001 * 512, 3501 * 512).equals(s.devs[0]!.buffer.subarray(100 * 512, 600 * 512))).toBe(true);
    expect(s.devs[1]!.buffer.subarray(0, 3001 * 512).every((b) => b === 0)).toBe(true);
    // COPY STATUS of LIST ID 1: the last command's one segment of 500 - 3 * 128 blocks.
    const st = dataOf(await run(s.core, rcrCdb(0x00, 1, 12), { nexus, lun: 1 }));
    expect([st[4], st.readUInt16BE(5), st[7], st.readUInt32BE(8)]).toEqual([0x01, 1, 0x00, (500 - 3 * 128) * 512]);
  });

  it('copies within a 4096-byte-block LU, the command sent to that LU', async () => {
    const s = await xcopySetup();
    s.devs[3]!.buffer.fill(0x77, 0, 4096 * 10);
    s.devs[3]!.buffer.fill(0x78, 4096 * 10, 4096 * 20);
    // LU 3 (4096-byte blocks) to itself: blocks 5..19 -> 30..44.
    const commands = await sgXcopy(s.core, s.lus, { from: 3, to: 3, count: 15, bpt: 4, skip: 5, seek: 30, onLun: 3 });
    expect(commands).toBe(4);
    const want = Buffer.concat([Buffer.alloc(5 * 4096, 0x77), Buffer.alloc(10 * 4096, 0x78)]);
    expect(s.devs[3]!.buffer.subarray(30 * 4096, 45 * 4096).equals(want)).toBe(true);
  });
});
