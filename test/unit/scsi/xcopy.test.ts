import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { dataOf, gate, makeNexus, run, send, sense, settle } from './fixture.js';
import { reserve6 } from '../../helpers/pr.js';
import { cscd, paramList, pattern, rcrCdb, segment, xcopyCdb, xcopySetup } from './xcopy-fixture.js';

async function xcopy(s: Awaited<ReturnType<typeof xcopySetup>>, params: Buffer, lun = 0, nexusId = 1) {
  return run(s.core, xcopyCdb(params.length), { data: params, lun, nexus: makeNexus(nexusId) });
}

describe('EXTENDED COPY (LID1) between LUs of one target', () => {
  it('copies blocks from one LU to another, whichever LU receives the command', async () => {
    const s = await xcopySetup();
    pattern(s.devs[0]!);
    const params = paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 3000, 10, 100)]);
    const r = await xcopy(s, params, 3);
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(s.devs[1]!.buffer.subarray(100 * 512, 3100 * 512).equals(s.devs[0]!.buffer.subarray(10 * 512, 3010 * 512))).toBe(true);
    expect(s.devs[1]!.buffer.subarray(0, 100 * 512).every((b) => b === 0)).toBe(true);
    expect(s.devs[1]!.buffer.subarray(3100 * 512).every((b) => b === 0)).toBe(true);
    // Bounded chunks: 3000 blocks (1.5 MiB) go as more than one write, and every read buffer went back.
    const writes = s.devs[1]!.log.filter((x) => x.op === 'write');
    expect(writes.length).toBe(2);
    expect(Math.max(...writes.map((w) => w.length))).toBeLessThanOrEqual(1024 * 1024);
    expect(s.devs[0]!.released).toBe(s.devs[0]!.log.filter((x) => x.op === 'read').length);
  });

  it('runs several segments in order', async () => {
    const s = await xcopySetup();
    pattern(s.devs[0]!);
    const params = paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 1, 5, 0), segment(0, 1, 1, 7, 1)]);
    expect((await xcopy(s, params)).status).toBe(ScsiStatus.GOOD);
    expect([s.devs[1]!.buffer[0], s.devs[1]!.buffer[512]]).toEqual([5, 7]);
  });

  it('copies between LUs of different block sizes when the byte count suits both', async () => {
    const s = await xcopySetup();
    pattern(s.devs[0]!);
    // DC = 0: 16 source blocks of 512 = 2 destination blocks of 4096.
    const params = paramList([cscd(s.lus[0]!), cscd(s.lus[3]!)], [segment(0, 1, 16, 8, 1)]);
    expect((await xcopy(s, params)).status).toBe(ScsiStatus.GOOD);
    expect(s.devs[3]!.buffer.subarray(4096, 3 * 4096).equals(s.devs[0]!.buffer.subarray(8 * 512, 24 * 512))).toBe(true);
    // 3 source blocks are not a whole destination block.
    const bad = paramList([cscd(s.lus[0]!), cscd(s.lus[3]!)], [segment(0, 1, 3, 0, 0)]);
    expect(sense(await xcopy(s, bad))?.key).toBe(SenseKey.COPY_ABORTED);
  });

  it('copies within one LU like memmove when source and destination overlap', async () => {
    const s = await xcopySetup();
    pattern(s.devs[0]!);
    const before = Buffer.from(s.devs[0]!.buffer.subarray(0, 3000 * 512));
    const params = paramList([cscd(s.lus[0]!)], [segment(0, 0, 3000, 0, 1000)]);
    expect((await xcopy(s, params)).status).toBe(ScsiStatus.GOOD);
    expect(s.devs[0]!.buffer.subarray(1000 * 512, 4000 * 512).equals(before)).toBe(true);
  });

  it('parameter list length 0 is not an error and moves nothing', async () => {
    const s = await xcopySetup();
    const r = await run(s.core, xcopyCdb(0), { nexus: makeNexus(1) });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(s.devs[0]!.log).toEqual([]);
  });

  it('a read-only destination ends in DATA PROTECT / WRITE PROTECTED before anything is read', async () => {
    const s = await xcopySetup();
    const r = await xcopy(s, paramList([cscd(s.lus[0]!), cscd(s.lus[2]!)], [segment(0, 1, 8, 0, 0)]));
    expect(sense(r)).toMatchObject({ key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x00 });
    expect(s.devs[0]!.log.filter((x) => x.op === 'read')).toEqual([]);
  });

  it('a read-only LU may still be the source', async () => {
    const s = await xcopySetup();
    s.devs[2]!.buffer.fill(0x5a, 0, 512);
    const r = await xcopy(s, paramList([cscd(s.lus[2]!), cscd(s.lus[1]!)], [segment(0, 1, 1, 0, 0)]));
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(s.devs[1]!.buffer[0]).toBe(0x5a);
  });

  it('refuses segments beyond either capacity with COPY ABORTED and writes nothing', async () => {
    const s = await xcopySetup();
    for (const seg of [segment(0, 1, 2048, 0, 8192 - 1), segment(0, 1, 2, 8191, 0)]) {
      const r = await xcopy(s, paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 1, 0, 0), seg]));
      expect(sense(r)).toMatchObject({ key: SenseKey.COPY_ABORTED });
    }
    expect(s.devs[1]!.log.filter((x) => x.op === 'write')).toEqual([]);
  });

  it('a segment naming a missing descriptor or a device not of this target: COPY TARGET DEVICE NOT REACHABLE', async () => {
    const s = await xcopySetup();
    const missing = await xcopy(s, paramList([cscd(s.lus[0]!)], [segment(0, 1, 1, 0, 0)]));
    expect(sense(missing)).toMatchObject({ key: SenseKey.COPY_ABORTED, asc: 0x0d, ascq: 0x02 });
    const stranger = cscd(s.lus[0]!, { naa: Buffer.from('6001405aaaaaaaaaaaaaaaaaaaaaaaaa', 'hex') });
    const other = await xcopy(s, paramList([cscd(s.lus[0]!), stranger], [segment(0, 1, 1, 0, 0)]));
    expect(sense(other)).toMatchObject({ key: SenseKey.COPY_ABORTED, asc: 0x0d, ascq: 0x02 });
  });

  it('a block length in the descriptor that is not the LU’s own aborts the copy', async () => {
    const s = await xcopySetup();
    const r = await xcopy(s, paramList([cscd(s.lus[0]!), cscd(s.lus[1]!, { blockLength: 4096 })], [segment(0, 1, 8, 0, 0)]));
    expect(sense(r)?.key).toBe(SenseKey.COPY_ABORTED);
  });

  it('honours a reservation another nexus holds on the destination (RESERVATION CONFLICT)', async () => {
    const s = await xcopySetup();
    expect((await run(s.core, reserve6(), { lun: 1, nexus: makeNexus(2) })).status).toBe(ScsiStatus.GOOD);
    const params = paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 8, 0, 0)]);
    expect((await xcopy(s, params, 0, 1)).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
    expect(s.devs[1]!.log.filter((x) => x.op === 'write')).toEqual([]);
    // The holder itself may copy onto it.
    expect((await xcopy(s, params, 0, 2)).status).toBe(ScsiStatus.GOOD);
  });

  it('an abort stops the copy between chunks and ends it with TASK ABORTED', async () => {
    const s = await xcopySetup();
    const hold = gate();
    s.devs[0]!.beforeIo = (op) => (op === 'read' ? hold.promise : undefined);
    const params = paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 8000, 0, 0)]);
    const nexus = makeNexus(1);
    const sent = send(s.core, xcopyCdb(params.length), { data: params, nexus, tag: 777 });
    await settle();
    expect(s.core.abortTask(nexus, 0, 777)).toBe('complete');
    hold.open();
    const r = await sent.response;
    expect(r.status).toBe(ScsiStatus.TASK_ABORTED);
    // 8000 blocks are 4 chunks; at most the one in flight was written.
    expect(s.devs[1]!.log.filter((x) => x.op === 'write').length).toBeLessThanOrEqual(1);
  });

  it('refuses the LID4 service action and a parameter list beyond 64 KiB as invalid CDB fields', async () => {
    const s = await xcopySetup();
    const lid4 = xcopyCdb(32);
    lid4[1] = 0x01;
    expect(sense(await run(s.core, lid4, { data: Buffer.alloc(32), nexus: makeNexus(1) }))).toMatchObject({
      key: SenseKey.ILLEGAL_REQUEST,
      asc: 0x24,
    });
    expect(sense(await run(s.core, xcopyCdb(65 * 1024), { nexus: makeNexus(1) }))).toMatchObject({
      key: SenseKey.ILLEGAL_REQUEST,
      asc: 0x24,
    });
  });
});

describe('RECEIVE COPY RESULTS', () => {
  it('OPERATING PARAMETERS reports the limits the parser enforces and the descriptor types it takes', async () => {
    const s = await xcopySetup();
    const d = dataOf(await run(s.core, rcrCdb(0x03), { nexus: makeNexus(1) }));
    expect(d.length).toBe(46);
    expect(d.readUInt32BE(0)).toBe(42);
    expect(d[4]! & 1).toBe(1); // SNLID
    expect(d.readUInt16BE(8)).toBe(4); // CSCD descriptors
    expect(d.readUInt16BE(10)).toBe(16); // segment descriptors
    expect(d.readUInt32BE(12)).toBe(1024);
    expect(d.readUInt32BE(16)).toBe(32 * 1024 * 1024);
    expect(d.readUInt32BE(20)).toBe(0); // no inline data
    expect([...d.subarray(43)]).toEqual([2, 0x02, 0xe4]);
    // ALLOCATION LENGTH cuts it.
    expect(dataOf(await run(s.core, rcrCdb(0x03, 0, 10), { nexus: makeNexus(1) })).length).toBe(10);
  });

  it('COPY STATUS: unknown list id is an invalid CDB field; after a copy it reports completion per nexus', async () => {
    const s = await xcopySetup();
    const none = await run(s.core, rcrCdb(0x00, 7), { nexus: makeNexus(1) });
    expect(sense(none)).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x24, ascq: 0x00 });
    const params = paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 4, 0, 0), segment(0, 1, 2, 4, 4)], 7);
    expect((await xcopy(s, params)).status).toBe(ScsiStatus.GOOD);
    // Another nexus does not see it.
    expect(sense(await run(s.core, rcrCdb(0x00, 7), { nexus: makeNexus(2) }))?.asc).toBe(0x24);
    const d = dataOf(await run(s.core, rcrCdb(0x00, 7), { nexus: makeNexus(1) }));
    expect(d.readUInt32BE(0)).toBe(8);
    expect(d[4]).toBe(0x01); // completed without errors
    expect(d.readUInt16BE(5)).toBe(2); // segments processed
    expect(d[7]).toBe(0x00); // bytes
    expect(d.readUInt32BE(8)).toBe(6 * 512);
  });

  it('COPY STATUS of a failed copy says so; LIST ID USAGE 11b keeps no status', async () => {
    const s = await xcopySetup();
    const failing = paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 4, 0, 0)], 9);
    s.devs[1]!.beforeIo = () => {
      throw new Error('boom');
    };
    expect((await xcopy(s, failing)).status).toBe(ScsiStatus.CHECK_CONDITION);
    const d = dataOf(await run(s.core, rcrCdb(0x00, 9), { nexus: makeNexus(1) }));
    expect(d[4]).toBe(0x02); // completed with errors
    s.devs[1]!.beforeIo = undefined;
    const untracked = paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 4, 0, 0)], 5, 3);
    expect((await xcopy(s, untracked)).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(s.core, rcrCdb(0x00, 5), { nexus: makeNexus(1) }))?.asc).toBe(0x24);
  });

  it('a list id still in use by a running copy of the same nexus: OPERATION IN PROGRESS', async () => {
    const s = await xcopySetup();
    const hold = gate();
    s.devs[0]!.beforeIo = (op) => (op === 'read' ? hold.promise : undefined);
    const params = paramList([cscd(s.lus[0]!), cscd(s.lus[1]!)], [segment(0, 1, 4, 0, 0)], 3);
    const first = send(s.core, xcopyCdb(params.length), { data: params, nexus: makeNexus(1) });
    await settle();
    const running = dataOf(await run(s.core, rcrCdb(0x00, 3), { nexus: makeNexus(1) }));
    expect(running[4]).toBe(0x00); // in progress
    const second = await xcopy(s, params);
    expect(sense(second)).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x00, ascq: 0x16 });
    hold.open();
    expect((await first.response).status).toBe(ScsiStatus.GOOD);
  });
});
