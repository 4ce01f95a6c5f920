import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { LATENCY_BUCKETS_SECONDS } from '../../../src/scsi/stats.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, dataOf, makeCommand, makeLu, makeNexus, run, sense, setup, TARGET } from './fixture.js';

const TUR = [0x00, 0, 0, 0, 0, 0];

function reportLuns(allocation: number, select = 0): number[] {
  return [0xa0, 0, select, 0, 0, 0, allocation >>> 24, (allocation >> 16) & 0xff, (allocation >> 8) & 0xff, allocation & 0xff, 0, 0];
}

function rsoc(option: number, opcode = 0, sa = 0, allocation = 4096, rctd = false): number[] {
  return [0xa3, 0x0c, (rctd ? 0x80 : 0) | option, opcode, sa >> 8, sa & 0xff, 0, 0, allocation >> 8, allocation & 0xff, 0, 0];
}

async function sparseCore(luns: number[]): Promise<ScsiTargetCore> {
  const core = new ScsiTargetCore({ targetName: TARGET, luns: luns.map((lun) => makeLu(new MemDevice(8), { lun })) });
  core.addNexus(makeNexus());
  for (const lun of luns) await run(core, TUR, { lun });
  return core;
}

describe('REPORT LUNS', () => {
  it('lists every LU, peripheral addressing below 256 and flat space above', async () => {
    const core = await sparseCore([300, 0, 5]);
    expect(core.lunNumbers).toEqual([0, 5, 300]);
    const d = dataOf(await run(core, reportLuns(4096)));
    expect(d.readUInt32BE(0)).toBe(24);
    expect([...d.subarray(8, 16)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...d.subarray(16, 24)]).toEqual([0, 5, 0, 0, 0, 0, 0, 0]);
    expect([...d.subarray(24, 32)]).toEqual([0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
  });

  it('answers on a LUN that has no LU', async () => {
    const core = await sparseCore([0]);
    const r = await run(core, reportLuns(16), { lun: 42 });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect([...dataOf(r)]).toEqual([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('SELECT REPORT 1 (well-known LUs only) is an empty list; 2 is everything; others are refused', async () => {
    const core = await sparseCore([0, 1]);
    expect([...dataOf(await run(core, reportLuns(64, 1)))]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(dataOf(await run(core, reportLuns(64, 2))).readUInt32BE(0)).toBe(16);
    expect(sense(await run(core, reportLuns(64, 3)))).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 2 } });
  });

  it('an ALLOCATION LENGTH below 16 is INVALID FIELD IN CDB; above, data is cut to it', async () => {
    const core = await sparseCore([0, 1, 2]);
    expect(sense(await run(core, reportLuns(15)))).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 6 } });
    const d = dataOf(await run(core, reportLuns(16)));
    expect(d.length).toBe(16);
    expect(d.readUInt32BE(0)).toBe(24);
  });
});

describe('a LUN without an LU', () => {
  it('refuses everything else with LOGICAL UNIT NOT SUPPORTED, even unknown opcodes', async () => {
    const core = await sparseCore([0]);
    for (const cdb of [TUR, [...cdb10(0x28, 0, 1)], [0xff, 0, 0, 0, 0, 0]]) {
      const r = await run(core, cdb, { lun: 3 });
      expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
      expect(sense(r)).toEqual({ key: 5, asc: 0x25, ascq: 0 });
    }
  });

  it('REQUEST SENSE reports LOGICAL UNIT NOT SUPPORTED as data with GOOD status (SPC-4)', async () => {
    const core = await sparseCore([0]);
    const r = await run(core, [0x03, 0, 0, 0, 18, 0], { lun: 3 });
    expect(r.status).toBe(ScsiStatus.GOOD);
    const d = dataOf(r);
    expect([d[2], d[12], d[13]]).toEqual([0x05, 0x25, 0x00]);
  });
});

describe('opcode table', () => {
  it('an unknown opcode is INVALID COMMAND OPERATION CODE', async () => {
    const { core } = await setup();
    for (const op of [0x04, 0x01, 0x07, 0x3b, 0x3c, 0x9c, 0xff]) {
      expect(sense(await run(core, [op, 0, 0, 0, 0, 0]))).toEqual({ key: 5, asc: 0x20, ascq: 0 });
    }
  });

  it('TEST UNIT READY is GOOD and has no data', async () => {
    const { core } = await setup();
    const r = await run(core, TUR);
    expect(r).toMatchObject({ status: ScsiStatus.GOOD });
    expect(r.dataIn).toBeUndefined();
    expect(r.sense).toBeUndefined();
  });

  it('a CDB shorter than its opcode needs is refused', async () => {
    const { core } = await setup();
    const cmd = { ...makeCommand(TUR), cdb: Buffer.from([0x28, 0, 0, 0]) };
    const p = core.prepare(cmd);
    expect(p.kind).toBe('respond');
    if (p.kind === 'respond') expect(p.response.status).toBe(ScsiStatus.CHECK_CONDITION);
  });

  it('an ACA task (no ACA condition can exist here) is refused', async () => {
    const { core } = await setup();
    expect(sense(await run(core, TUR, { attr: 'aca' }))).toEqual({ key: 5, asc: 0x24, ascq: 0 });
  });
});

describe('REPORT SUPPORTED OPERATION CODES', () => {
  it('one command: READ(10) is supported with DPO/FUA in its usage data', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, rsoc(1, 0x28)));
    expect([...d]).toEqual([0, 0x03, 0, 10, 0x28, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x00]);
  });

  it('one command: an unknown opcode is "not supported"', async () => {
    const { core } = await setup();
    expect([...dataOf(await run(core, rsoc(1, 0x3b)))]).toEqual([0, 0x01, 0, 0]);
  });

  it('asking without a service action for an opcode that has them, or with one for one that has not, is refused', async () => {
    const { core } = await setup();
    expect(sense(await run(core, rsoc(1, 0x9e)))?.fieldPointer).toEqual({ cd: true, byte: 2, bit: 2 });
    expect(sense(await run(core, rsoc(2, 0x28)))?.asc).toBe(0x24);
    expect(sense(await run(core, rsoc(7)))?.asc).toBe(0x24);
  });

  it('with a service action: READ CAPACITY(16) carries its service action in the usage data', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, rsoc(2, 0x9e, 0x10)));
    expect([d[1], d.readUInt16BE(2), d[4], d[5]]).toEqual([0x03, 16, 0x9e, 0x10]);
    expect([...dataOf(await run(core, rsoc(2, 0x9e, 0x13)))]).toEqual([0, 0x01, 0, 0]);
  });

  it('all commands: one 8-byte descriptor per table entry, sorted, with SERVACTV where it applies', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, rsoc(0)));
    const n = d.readUInt32BE(0) / 8;
    const entries = Array.from({ length: n }, (_, i) => d.subarray(4 + 8 * i, 12 + 8 * i));
    const ops = entries.map((e) => e[0]!);
    expect(ops).toEqual([...ops].sort((a, b) => a - b));
    expect(ops).toEqual(expect.arrayContaining([0x00, 0x03, 0x08, 0x0a, 0x12, 0x1a, 0x25, 0x28, 0x2a, 0x35, 0x5a, 0x88, 0x8a, 0x91, 0x9e, 0xa0, 0xa3, 0xa8, 0xaa]));
    const rc16 = entries.find((e) => e[0] === 0x9e)!;
    expect([rc16.readUInt16BE(2), rc16[5], rc16.readUInt16BE(6)]).toEqual([0x10, 0x01, 16]);
    const read10 = entries.find((e) => e[0] === 0x28)!;
    expect([read10[5], read10.readUInt16BE(6)]).toEqual([0x00, 10]);
  });

  it('RCTD adds a command timeouts descriptor (CTDP set)', async () => {
    const { core } = await setup();
    const all = dataOf(await run(core, rsoc(0, 0, 0, 8192, true)));
    expect(all.readUInt32BE(0) % 20).toBe(0);
    expect(all[4 + 5]! & 0x02).toBe(0x02);
    const one = dataOf(await run(core, rsoc(1, 0x28, 0, 4096, true)));
    expect(one[1]).toBe(0x83);
    expect(one.length).toBe(4 + 10 + 12);
    expect(one.readUInt16BE(14)).toBe(0x0a);
  });
});

describe('stats', () => {
  it('count commands by class, bytes, check conditions by sense key, and latency', async () => {
    const { core } = await setup(64);
    const before = core.stats.latency.count;
    await run(core, cdb10(0x2a, 0, 2), { data: Buffer.alloc(1024) });
    await run(core, cdb10(0x28, 0, 3));
    await run(core, cdb10(0x28, 64, 1));
    await run(core, [0x12, 0, 0, 0, 36, 0]);
    const s = core.stats;
    expect(s.commands).toEqual({ read: 2, write: 1, other: 2 }); // TUR from setup + INQUIRY
    expect(s.bytesWritten).toBe(1024);
    expect(s.bytesRead).toBe(1536);
    expect(s.checkConditionsBySenseKey[5]).toBe(1);
    expect(s.checkConditionsBySenseKey[6]).toBe(1); // setup's power-on unit attention
    expect(s.latency.count - before).toBe(4);
    expect(s.latency.bucketCounts.length).toBe(LATENCY_BUCKETS_SECONDS.length + 1);
    expect(s.latency.bucketCounts.reduce((a, b) => a + b, 0)).toBe(s.latency.count);
    expect(s.stateSeconds.executing).toBeGreaterThan(0);
  });
});
