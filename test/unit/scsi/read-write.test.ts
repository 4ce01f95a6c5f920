import { describe, expect, it } from 'vitest';
import { BlockError } from '../../../src/block/device.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, cdb12, cdb16, cdb6, dataOf, makeLu, makeNexus, run, send, sense, setup, TARGET } from './fixture.js';

const READ = { 6: 0x08, 10: 0x28, 12: 0xa8, 16: 0x88 } as const;
const WRITE = { 6: 0x0a, 10: 0x2a, 12: 0xaa, 16: 0x8a } as const;
type Size = 6 | 10 | 12 | 16;

function rw(size: Size, write: boolean, lba: number | bigint, blocks: number, byte1 = 0): Buffer {
  const op = (write ? WRITE : READ)[size];
  if (size === 6) return cdb6(op, Number(lba), blocks);
  if (size === 10) return cdb10(op, Number(lba), blocks, byte1);
  if (size === 12) return cdb12(op, Number(lba), blocks, byte1);
  return cdb16(op, lba, blocks, byte1);
}

const LBA_OOB = { key: SenseKey.ILLEGAL_REQUEST, asc: 0x21, ascq: 0x00 };

describe.each([6, 10, 12, 16] as const)('READ(%i) / WRITE(%i)', (size) => {
  it('writes then reads back the same blocks', async () => {
    const { core, dev } = await setup(64);
    const payload = Buffer.alloc(3 * 512);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + size) & 0xff;
    const w = await run(core, rw(size, true, 5, 3), { data: payload });
    expect(w.status).toBe(ScsiStatus.GOOD);
    expect(w.dataOutTransferLength).toBe(3 * 512);
    expect(dev.buffer.subarray(5 * 512, 8 * 512).equals(payload)).toBe(true);
    const r = await run(core, rw(size, false, 5, 3));
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(dataOf(r).equals(payload)).toBe(true);
  });

  it('reads the last block and refuses one block beyond the end', async () => {
    const { core } = await setup(64);
    expect((await run(core, rw(size, false, 63, 1))).status).toBe(ScsiStatus.GOOD);
    const r = await run(core, rw(size, false, 63, 2));
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(sense(r)).toEqual(LBA_OOB);
    expect(sense(await run(core, rw(size, true, 64, 1), { data: Buffer.alloc(512) }))).toEqual(LBA_OOB);
  });

  it('asks the transport for exactly blocks * block size of Data-Out', async () => {
    const { core } = await setup(64);
    const s = send(core, rw(size, true, 0, 4), { edtlOut: 4 * 512 });
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 4 * 512 });
    expect(send(core, rw(size, false, 0, 4)).prepared).toEqual({ kind: 'execute', dataOutLength: 0 });
  });
});

describe('transfer length zero', () => {
  it('means 256 blocks for READ(6) and WRITE(6)', async () => {
    const { core } = await setup(512);
    const r = await run(core, cdb6(0x08, 0, 0));
    expect(dataOf(r).length).toBe(256 * 512);
    const s = send(core, cdb6(0x0a, 0, 0), { data: Buffer.alloc(256 * 512) });
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 256 * 512 });
    expect((await s.response).status).toBe(ScsiStatus.GOOD);
  });

  it.each([10, 12, 16] as const)('means no transfer for READ(%i)/WRITE(%i), and no I/O', async (size) => {
    const { core, dev } = await setup(64);
    const r = await run(core, rw(size, false, 0, 0));
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.dataIn).toBeUndefined();
    const w = await run(core, rw(size, true, 64, 0));
    expect(w.status).toBe(ScsiStatus.GOOD);
    expect(w.dataOutTransferLength).toBe(0);
    expect(dev.log).toEqual([]);
  });

  it.each([10, 12, 16] as const)('is still range checked (LBA past the end, 2^31, -1)', async (size) => {
    const { core } = await setup(64);
    expect(sense(await run(core, rw(size, false, 65, 0)))).toEqual(LBA_OOB);
    expect(sense(await run(core, rw(size, false, 0x80000000, 0)))).toEqual(LBA_OOB);
    expect(sense(await run(core, rw(size, false, size === 16 ? -1n : 0xffffffff, 0)))).toEqual(LBA_OOB);
  });
});

describe('LBA range checks at the edges libiscsi probes', () => {
  it('READ(6) at LBA 1FFFFFh', async () => {
    const { core } = await setup(64);
    expect(sense(await run(core, cdb6(0x08, 0x1fffff, 1)))).toEqual(LBA_OOB);
  });

  it.each([2n ** 63n, 2n ** 55n, 2n ** 54n, 2n ** 53n, (1n << 64n) - 1n])('READ(16) at LBA %s', async (lba) => {
    const { core } = await setup(64);
    expect(sense(await run(core, cdb16(0x88, lba, 1)))).toEqual(LBA_OOB);
  });

  it('READ(10) with LBA + length wrapping past 2^32', async () => {
    const { core } = await setup(64);
    expect(sense(await run(core, cdb10(0x28, 0xffffffff, 2)))).toEqual(LBA_OOB);
  });
});

describe('CDB fields', () => {
  it.each([10, 12, 16] as const)('RDPROTECT/WRPROTECT != 0 is INVALID FIELD IN CDB at byte 1 bit 7 (%i)', async (size) => {
    const { core, dev } = await setup(64);
    for (let p = 1; p < 8; p++) {
      const r = await run(core, rw(size, false, 0, 1, p << 5));
      expect(sense(r)).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 1, bit: 7 } });
      const w = await run(core, rw(size, true, 0, 1, p << 5), { data: Buffer.alloc(512) });
      expect(sense(w)?.asc).toBe(0x24);
    }
    expect(dev.log).toEqual([]);
  });

  it('DPO and FUA are accepted; FUA makes the write durable', async () => {
    const { core, dev } = await setup(64);
    expect((await run(core, cdb10(0x28, 0, 1, 0x18))).status).toBe(ScsiStatus.GOOD);
    await run(core, cdb10(0x2a, 0, 1, 0x10), { data: Buffer.alloc(512) });
    await run(core, cdb10(0x2a, 0, 1, 0x08), { data: Buffer.alloc(512) });
    expect(dev.log.filter((l) => l.op === 'write').map((l) => l.fua)).toEqual([false, true]);
  });

  it('with the write cache disabled every write is durable', async () => {
    const { core, dev } = await setup(64, { writeCacheEnabled: false });
    await run(core, cdb10(0x2a, 0, 1), { data: Buffer.alloc(512) });
    expect(dev.log.at(-1)).toEqual({ op: 'write', offset: 0, length: 512, fua: true });
  });

  it('a transfer longer than MAXIMUM TRANSFER LENGTH is refused, pointing at TRANSFER LENGTH', async () => {
    const { core } = await setup(1024, { maxTransferLength: 16 });
    expect((await run(core, cdb10(0x28, 0, 16))).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(core, cdb10(0x28, 0, 17)))).toEqual({
      key: 5,
      asc: 0x24,
      ascq: 0,
      fieldPointer: { cd: true, byte: 7 },
    });
    expect(sense(await run(core, cdb16(0x88, 0, 17)))?.fieldPointer).toEqual({ cd: true, byte: 10 });
  });

  it('NACA in the CONTROL byte is refused', async () => {
    const { core } = await setup(64);
    const c = cdb10(0x28, 0, 1);
    c[9] = 0x04;
    expect(sense(await run(core, c))).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 9, bit: 2 } });
  });
});

describe('write protection', () => {
  it('a read-only LU refuses writes with DATA PROTECT / WRITE PROTECTED and never touches the device', async () => {
    const { core, dev } = await setup(64, { readOnly: true });
    for (const size of [6, 10, 12, 16] as const) {
      const r = await run(core, rw(size, true, 0, 1), { data: Buffer.alloc(512) });
      expect(sense(r)).toEqual({ key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x00 });
    }
    expect((await run(core, cdb10(0x28, 0, 1))).status).toBe(ScsiStatus.GOOD);
    expect(dev.log.some((l) => l.op === 'write')).toBe(false);
  });

  it('a read-only device makes the LU read-only too', async () => {
    const dev = new MemDevice(64, 512, true);
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [makeLu(dev)] });
    const nexus = makeNexus();
    core.addNexus(nexus);
    await run(core, [0, 0, 0, 0, 0, 0]);
    expect(sense(await run(core, cdb10(0x2a, 0, 1), { data: Buffer.alloc(512) }))?.asc).toBe(0x27);
  });
});

describe('expected length vs. CDB length (iSCSIResiduals)', () => {
  it('EDTL < SPDTL on a write, whole blocks: runs on the first EDTL bytes only; SPDTL is reported', async () => {
    const { core, dev } = await setup(64);
    dev.buffer.fill(0x61, 0, 1024);
    const s = send(core, cdb10(0x2a, 0, 2), { edtlOut: 512, data: Buffer.alloc(512, 0x62) });
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 512 });
    const r = await s.response;
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.dataOutTransferLength).toBe(1024);
    expect(dev.buffer.subarray(0, 512).every((b) => b === 0x62)).toBe(true);
    expect(dev.buffer.subarray(512, 1024).every((b) => b === 0x61)).toBe(true);
  });

  it('EDTL = 0 on a write: GOOD, nothing asked for, nothing written', async () => {
    const { core, dev } = await setup(64);
    const s = send(core, cdb10(0x2a, 0, 1), { edtlOut: 0 });
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 0 });
    const r = await s.response;
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.dataOutTransferLength).toBe(512);
    expect(dev.log).toEqual([]);
  });

  it('EDTL < SPDTL, not whole blocks: CHECK CONDITION INVALID FIELD IN COMMAND IU, nothing written', async () => {
    const { core, dev } = await setup(64);
    for (const edtl of [200, 700]) {
      const s = send(core, cdb10(0x2a, 0, 2), { edtlOut: edtl, data: Buffer.alloc(edtl, 0x62) });
      expect(s.prepared.kind).toBe('respond');
      const r = await s.response;
      expect(sense(r)).toEqual({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x0e, ascq: 0x03 });
      expect(r.dataOutTransferLength).toBe(1024);
    }
    expect(dev.log).toEqual([]);
  });

  it('EDTL > SPDTL on a write: only the CDB length is asked for and written', async () => {
    const { core, dev } = await setup(64);
    const s = send(core, cdb10(0x2a, 0, 1), { edtlOut: 10000, data: Buffer.alloc(10000, 0x62) });
    expect(s.prepared).toEqual({ kind: 'execute', dataOutLength: 512 });
    const r = await s.response;
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.dataOutTransferLength).toBe(512);
    expect(dev.buffer[511]).toBe(0x62);
    expect(dev.buffer[512]).toBe(0);
  });

  it('a read returns the whole SPDTL whatever the EDTL (the transport truncates and reports residuals)', async () => {
    const { core } = await setup(64);
    for (const edtl of [0, 200, 10000]) {
      const r = await run(core, cdb10(0x28, 0, 1), { edtlIn: edtl });
      expect(r.status).toBe(ScsiStatus.GOOD);
      expect(r.dataIn?.length).toBe(512);
      expect(r.dataOutTransferLength).toBeUndefined();
    }
  });

  it('short Data-Out from the transport is an ABORTED COMMAND, not a partial write', async () => {
    const { core, dev } = await setup(64);
    const r = await run(core, cdb10(0x2a, 0, 2), { edtlOut: 1024, data: Buffer.alloc(512) });
    expect(sense(r)).toEqual({ key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0 });
    expect(dev.log).toEqual([]);
  });
});

describe('block layer failures', () => {
  const cases = [
    { code: 'IO_ERROR', read: { key: 3, asc: 0x11, ascq: 0, information: 7 }, write: { key: 3, asc: 0x0c, ascq: 0, information: 7 } },
    { code: 'NO_SPACE', read: { key: 7, asc: 0x27, ascq: 7 }, write: { key: 7, asc: 0x27, ascq: 7 } },
    { code: 'READ_ONLY', read: { key: 7, asc: 0x27, ascq: 0 }, write: { key: 7, asc: 0x27, ascq: 0 } },
    { code: 'OUT_OF_RANGE', read: LBA_OOB, write: LBA_OOB },
  ] as const;

  it.each(cases)('$code maps to sense', async ({ code, read, write }) => {
    const { core, dev } = await setup(64);
    dev.beforeIo = () => {
      throw new BlockError(code, 'injected');
    };
    expect(sense(await run(core, cdb10(0x28, 7, 1)))).toEqual(read);
    expect(sense(await run(core, cdb10(0x2a, 7, 1), { data: Buffer.alloc(512) }))).toEqual(write);
  });

  it('POOL_EXHAUSTED is TASK SET FULL without sense; ABORTED is TASK ABORTED', async () => {
    const { core, dev } = await setup(64);
    let code: 'POOL_EXHAUSTED' | 'ABORTED' = 'POOL_EXHAUSTED';
    dev.beforeIo = () => {
      throw new BlockError(code, 'injected');
    };
    const full = await run(core, cdb10(0x28, 0, 1));
    expect(full).toMatchObject({ status: ScsiStatus.TASK_SET_FULL });
    expect(full.sense).toBeUndefined();
    code = 'ABORTED';
    expect((await run(core, cdb10(0x28, 0, 1))).status).toBe(ScsiStatus.TASK_ABORTED);
  });

  it('anything else is HARDWARE ERROR / INTERNAL TARGET FAILURE', async () => {
    const { core, dev } = await setup(64);
    dev.beforeIo = () => {
      throw new Error('bug');
    };
    expect(sense(await run(core, cdb10(0x28, 0, 1)))).toEqual({ key: SenseKey.HARDWARE_ERROR, asc: 0x44, ascq: 0 });
  });

  it('reports sense in descriptor format when D_SENSE is set', async () => {
    const { core, lu } = await setup(64);
    lu.descriptorSense = true;
    const r = await run(core, cdb16(0x88, 2n ** 63n, 1));
    expect(r.sense?.[0]).toBe(0x72);
    expect(sense(r)).toEqual(LBA_OOB);
  });
});

describe('read data ownership', () => {
  it('passes the block layer release() through to the transport', async () => {
    const { core, dev } = await setup(64);
    const r = await run(core, cdb10(0x28, 0, 1));
    expect(dev.released).toBe(0);
    r.release?.();
    expect(dev.released).toBe(1);
  });
});
