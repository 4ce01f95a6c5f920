import { randomBytes } from 'node:crypto';
import { openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestInitiator } from '../helpers/initiator.js';
import { read10, write10, write16, read16, senseCodes, inquiry, testUnitReady } from '../helpers/cdb.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

const GOOD = 0;
const CHECK_CONDITION = 2;

let t: TestTarget;
beforeAll(async () => {
  t = await startTestTarget((raw) => {
    // Small bursts so that one write needs several R2Ts.
    raw.iscsi = { ...(raw.iscsi as object), maxBurstLength: 65536, firstBurstLength: 16384, maxOutstandingR2T: 4 };
  });
});
afterAll(() => t.stop());

function fileBytes(offset: number, length: number): Buffer {
  const fd = openSync(join(t.dir, 'lun0.img'), 'r');
  const b = Buffer.alloc(length);
  readSync(fd, b, 0, length, offset);
  closeSync(fd);
  return b;
}

async function session(keys: [string, string][], digests = false): Promise<TestInitiator> {
  const i = await TestInitiator.connect(t.port);
  const r = await i.login({ targetName: TEST_IQN, keys, headerDigest: digests, dataDigest: digests });
  expect(r.status).toEqual([0, 0]);
  // Clear the power-on unit attention.
  const tur = await i.command({ cdb: testUnitReady() });
  expect(tur.status).toBe(CHECK_CONDITION);
  expect(senseCodes(tur.sense)).toEqual([0x06, 0x29, 0x00]);
  return i;
}

describe('data transfer', () => {
  for (const immediate of ['Yes', 'No']) {
    for (const initialR2T of ['Yes', 'No']) {
      it(`writes and reads back byte-exact with ImmediateData=${immediate} InitialR2T=${initialR2T}`, async () => {
        const i = await session([
          ['ImmediateData', immediate],
          ['InitialR2T', initialR2T],
          ['MaxRecvDataSegmentLength', '8192'],
          ['FirstBurstLength', '16384'],
          ['MaxBurstLength', '65536'],
          ['MaxOutstandingR2T', '4'],
        ]);
        for (const blocks of [1, 7, 32, 200, 600]) {
          const lba = 1000 + blocks * 3 + (immediate === 'Yes' ? 0 : 5000) + (initialR2T === 'Yes' ? 0 : 20000);
          const data = randomBytes(blocks * 512);
          const w = await i.command({ cdb: write10(lba, blocks), write: data });
          expect(w.status).toBe(GOOD);
          expect(w.residual).toBe(0);
          // R2Ts cover exactly what was not sent unsolicited, each within MaxBurstLength.
          const unsolicited = immediate === 'Yes' || initialR2T === 'No' ? Math.min(16384, data.length) : 0;
          const solicited = w.r2ts.reduce((n, r) => n + r.length, 0);
          expect(solicited).toBe(data.length - unsolicited);
          for (const r of w.r2ts) expect(r.length).toBeLessThanOrEqual(65536);
          expect(fileBytes(lba * 512, data.length).equals(data)).toBe(true);
          const r = await i.command({ cdb: read10(lba, blocks), read: data.length });
          expect(r.status).toBe(GOOD);
          expect(r.data.equals(data)).toBe(true);
        }
        await i.logout();
      });
    }
  }

  it('segments Data-In to the initiator MaxRecvDataSegmentLength with status in the last PDU', async () => {
    const i = await session([['MaxRecvDataSegmentLength', '4096']]);
    const data = randomBytes(1024 * 1024);
    expect((await i.command({ cdb: write16(4096, 2048), write: data })).status).toBe(GOOD);
    const r = await i.command({ cdb: read16(4096, 2048), read: data.length });
    expect(r.status).toBe(GOOD);
    expect(r.data.equals(data)).toBe(true);
    expect(Math.max(...r.dataInLengths)).toBeLessThanOrEqual(4096);
    expect(r.dataInPdus).toBe(256);
    i.close();
  });

  it('works with header and data digests', async () => {
    const i = await session([['MaxRecvDataSegmentLength', '65536']], true);
    const data = randomBytes(300 * 512 + 0);
    expect((await i.command({ cdb: write10(50, 300), write: data })).status).toBe(GOOD);
    const r = await i.command({ cdb: read10(50, 300), read: data.length });
    expect(r.data.equals(data)).toBe(true);
    await i.logout();
  });

  it('drops the connection on a corrupted header digest and stays up for others', async () => {
    const i = await session([], true);
    const bad = Buffer.alloc(52);
    bad[0] = 0x00 | 0x40; // NOP-Out, immediate
    bad[1] = 0x80;
    bad.writeUInt32BE(0xffffffff, 20);
    bad.writeUInt32BE(0x12345678, 48); // wrong CRC
    i.sendRaw(bad);
    await i.waitClosed();
    const j = await session([]);
    expect((await j.command({ cdb: inquiry(36), read: 36 })).status).toBe(GOOD);
    j.close();
  });

  it('reports residual underflow and overflow on reads', async () => {
    const i = await session([]);
    const under = await i.command({ cdb: read10(0, 1), read: 1024 });
    expect(under.status).toBe(GOOD);
    expect(under.underflow).toBe(true);
    expect(under.residual).toBe(512);
    expect(under.data.length).toBe(512);
    const over = await i.command({ cdb: read10(0, 2), read: 512 });
    expect(over.status).toBe(GOOD);
    expect(over.overflow).toBe(true);
    expect(over.residual).toBe(512);
    expect(over.data.length).toBe(512);
    i.close();
  });

  it('answers LBA out of range and unknown opcodes with exact sense', async () => {
    const i = await session([]);
    const cap = t.scatter.lunRegistry.get(TEST_IQN, 0)!.queue!.size / 512;
    const oor = await i.command({ cdb: read10(cap - 1, 2), read: 1024 });
    expect(oor.status).toBe(CHECK_CONDITION);
    expect(senseCodes(oor.sense)).toEqual([0x05, 0x21, 0x00]);
    const bad = Buffer.alloc(10);
    bad[0] = 0xc7;
    const u = await i.command({ cdb: bad, read: 0 });
    expect(u.status).toBe(CHECK_CONDITION);
    expect(senseCodes(u.sense)).toEqual([0x05, 0x20, 0x00]);
    i.close();
  });

  it('fails a write past the end without soliciting its data', async () => {
    const i = await session([['ImmediateData', 'No'], ['InitialR2T', 'Yes']]);
    const cap = t.scatter.lunRegistry.get(TEST_IQN, 0)!.queue!.size / 512;
    const w = await i.command({ cdb: write10(cap - 1, 8), write: Buffer.alloc(4096) });
    expect(w.status).toBe(CHECK_CONDITION);
    expect(w.r2ts).toEqual([]);
    expect(senseCodes(w.sense)).toEqual([0x05, 0x21, 0x00]);
    i.close();
  });

  it('delivers commands in CmdSN order even when they arrive out of order', async () => {
    const i = await session([]);
    const a = randomBytes(512);
    const b = randomBytes(512);
    // Send CmdSN n+1 (write b) before CmdSN n (write a) to the same block: b must win.
    // ORDERED (attr 2): SIMPLE tasks may legally complete in any order once delivered.
    const snA = i.cmdSN;
    i.cmdSN = snA + 1;
    const pB = i.command({ cdb: write10(77, 1), write: b, attr: 2 });
    i.cmdSN = snA;
    const pA = i.command({ cdb: write10(77, 1), write: a, attr: 2 });
    i.cmdSN = snA + 2;
    expect((await pA).status).toBe(GOOD);
    expect((await pB).status).toBe(GOOD);
    expect(fileBytes(77 * 512, 512).equals(b)).toBe(true);
    i.close();
  });

  it('serves the null backstore: writes accepted, reads zeros', async () => {
    const i = await session([]);
    expect((await i.command({ lun: 1, cdb: testUnitReady() })).status).toBe(CHECK_CONDITION); // its own UA
    expect((await i.command({ lun: 1, cdb: write10(5, 8), write: randomBytes(4096) })).status).toBe(GOOD);
    const r = await i.command({ lun: 1, cdb: read10(5, 8), read: 4096 });
    expect(r.data.equals(Buffer.alloc(4096))).toBe(true);
    i.close();
  });
});
