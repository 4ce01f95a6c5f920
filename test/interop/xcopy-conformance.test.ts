import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { inquiry, read16, senseCodes, testUnitReady, write16 } from '../helpers/cdb.js';
import { expectClean, lunUrl, runTestCu, startScratchTarget } from '../helpers/libiscsi-cu.js';
import { TestInitiator } from '../helpers/initiator.js';
import { missingTools } from '../helpers/tools.js';
import { TEST_IQN, type TestTarget } from '../helpers/target.js';

/** libiscsi's EXTENDED COPY and RECEIVE COPY RESULTS suites (issue #4). */
const SUITES = ['ALL.ExtendedCopy', 'ALL.ReceiveCopyResults'];

const missing = missingTools(['iscsi-test-cu']);

describe.skipIf(missing.length > 0)('libiscsi EXTENDED COPY suites (iscsi-test-cu)', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startScratchTarget([
      { lun: 0, file: 'a.img' },
      { lun: 1, file: 'b.img', backstore: { thin: true } },
    ]);
  });
  afterAll(() => t?.stop());

  for (const name of SUITES) {
    for (const lun of [0, 1]) {
      it(`${name} on LU ${lun}: every test passes, none skipped`, async () => {
        expectClean(await runTestCu(name, [lunUrl(t, lun)]), { noSkips: true });
      });
    }
  }
});

/** The first NAA designator of a VPD 83h page, as an initiator would put it in a CSCD descriptor. */
function naaOf(page: Buffer): Buffer {
  for (let at = 4; at < page.length; at += 4 + page[at + 3]!) {
    if ((page[at + 1]! & 0x3f) === 0x03) return page.subarray(at + 4, at + 4 + page[at + 3]!);
  }
  throw new Error('no NAA designator');
}

function cscd(naa: Buffer): Buffer {
  const d = Buffer.alloc(32);
  d[0] = 0xe4;
  d[4] = 0x01;
  d[5] = 0x03;
  d[7] = naa.length;
  naa.copy(d, 8);
  d.writeUIntBE(512, 29, 3);
  return d;
}

/** One CSCD per LU, one block-to-block segment from descriptor 0 to descriptor 1. */
function params(src: Buffer, dst: Buffer, blocks: number, srcLba: number, dstLba: number): Buffer {
  const p = Buffer.alloc(16 + 64 + 28);
  p[1] = 3 << 3; // LIST ID USAGE 11b
  p.writeUInt16BE(64, 2);
  p.writeUInt32BE(28, 8);
  cscd(src).copy(p, 16);
  cscd(dst).copy(p, 48);
  p[80] = 0x02;
  p.writeUInt16BE(0x18, 82);
  p.writeUInt16BE(1, 86);
  p.writeUInt16BE(blocks, 90);
  p.writeBigUInt64BE(BigInt(srcLba), 92);
  p.writeBigUInt64BE(BigInt(dstLba), 100);
  return p;
}

function xcopyCdb(length: number): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x83;
  c.writeUInt32BE(length, 10);
  return c;
}

describe('EXTENDED COPY between two LUs over iSCSI (designators as VPD 83h gives them)', () => {
  let t: TestTarget;
  let i: TestInitiator;
  const naa: Buffer[] = [];
  beforeAll(async () => {
    t = await startScratchTarget([
      { lun: 0, file: 'a.img', size: '16MiB' },
      { lun: 1, file: 'b.img', size: '16MiB' },
      { lun: 2, file: 'ro.img', size: '16MiB', readOnly: true },
    ]);
    i = await TestInitiator.connect(t.port);
    await i.login({ targetName: TEST_IQN });
    for (const lun of [0, 1, 2]) {
      await i.command({ lun, cdb: testUnitReady() }); // the power-on unit attention
      const page = await i.command({ lun, cdb: inquiry(255, true, 0x83), read: 255 });
      naa.push(Buffer.from(naaOf(page.data)));
    }
  });
  afterAll(async () => {
    await i?.logout();
    await t?.stop();
  });

  it('copies 3 MiB from LU 0 to LU 1 (sent to LU 1) byte for byte', async () => {
    const blocks = 6144;
    const data = randomBytes(blocks * 512);
    expect((await i.command({ lun: 0, cdb: write16(100, blocks), write: data })).status).toBe(0);
    const p = params(naa[0]!, naa[1]!, blocks, 100, 7);
    const r = await i.command({ lun: 1, cdb: xcopyCdb(p.length), write: p });
    expect(r.status, String(senseCodes(r.sense))).toBe(0);
    const back = await i.command({ lun: 1, cdb: read16(7, blocks), read: blocks * 512 });
    expect(back.data.equals(data)).toBe(true);
  });

  it('a read-only destination LU: CHECK CONDITION, DATA PROTECT / WRITE PROTECTED', async () => {
    const p = params(naa[0]!, naa[2]!, 8, 0, 0);
    const r = await i.command({ lun: 0, cdb: xcopyCdb(p.length), write: p });
    expect(r.status).toBe(2);
    expect(senseCodes(r.sense)).toEqual([0x07, 0x27, 0x00]);
  });
});
