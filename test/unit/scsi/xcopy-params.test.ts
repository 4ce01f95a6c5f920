import { describe, expect, it } from 'vitest';
import { isSenseReason } from '../../../src/scsi/sense-reasons.js';
import { SenseKey } from '../../../src/scsi/sense.js';
import { parseXcopyParams } from '../../../src/scsi/spc/xcopy-params.js';
import { XcopyLimits } from '../../../src/scsi/spc/xcopy-limits.js';
import { thirdPartyCopyPage } from '../../../src/scsi/spc/xcopy-vpd.js';
import { dataOf, makeNexus, run, sense } from './fixture.js';
import { cscd, paramList, segment, xcopyCdb, xcopySetup } from './xcopy-fixture.js';

function reasonOf(p: Buffer): [number, number, number] | 'ok' {
  const r = parseXcopyParams(p);
  return isSenseReason(r) ? [r.key, r.asc, r.ascq] : 'ok';
}

const IR = SenseKey.ILLEGAL_REQUEST;

describe('EXTENDED COPY parameter list decoding', async () => {
  const { lus } = await xcopySetup();
  const t = cscd(lus[0]!);
  const seg = segment(0, 0, 8, 0, 100);

  it('decodes header, CSCD and block-to-block descriptors', () => {
    const p = paramList([t, cscd(lus[1]!)], [segment(0, 1, 8, 3, 100)], 42, 2);
    const r = parseXcopyParams(p);
    expect(isSenseReason(r)).toBe(false);
    if (isSenseReason(r)) return;
    expect(r.listId).toBe(42);
    expect(r.listIdUsage).toBe(2);
    expect(r.targets.map((x) => [x.designatorType, x.association, x.blockLength])).toEqual([
      [3, 0, 512],
      [3, 0, 512],
    ]);
    expect(r.targets[1]!.designator.equals(lus[1]!.naaId)).toBe(true);
    expect(r.segments).toEqual([
      { destinationCount: false, source: 0, destination: 1, blocks: 8, sourceLba: 3, destinationLba: 100 },
    ]);
  });

  it('descriptor lists longer than the data: PARAMETER LIST LENGTH ERROR', () => {
    const p = paramList([t], [seg]);
    expect(reasonOf(p.subarray(0, 16 + 31))).toEqual([IR, 0x1a, 0x00]);
    expect(reasonOf(p.subarray(0, p.length - 1))).toEqual([IR, 0x1a, 0x00]);
    expect(reasonOf(p.subarray(0, 15))).toEqual([IR, 0x1a, 0x00]);
  });

  it('more descriptors than the limits: TOO MANY TARGET / SEGMENT DESCRIPTORS', () => {
    expect(reasonOf(paramList([t, t, t, t, t], [seg]))).toEqual([IR, 0x26, 0x06]);
    expect(reasonOf(paramList([t, t, t, t], [seg]))).toBe('ok');
    expect(reasonOf(paramList([t], new Array<Buffer>(17).fill(seg)))).toEqual([IR, 0x26, 0x08]);
    expect(reasonOf(paramList([t], new Array<Buffer>(16).fill(seg)))).toBe('ok');
  });

  it('descriptor lists over MAXIMUM DESCRIPTOR LIST LENGTH are a length error, checked before the counts', () => {
    expect(reasonOf(paramList([t, t, t, t, t], new Array<Buffer>(31).fill(seg)))).toEqual([IR, 0x1a, 0x00]);
  });

  it('unsupported descriptor type codes', () => {
    expect(reasonOf(paramList([cscd(lus[0]!, { type: 0xe0 })], [seg]))).toEqual([IR, 0x26, 0x07]);
    expect(reasonOf(paramList([t], [segment(0, 0, 8, 0, 0, 0x03)]))).toEqual([IR, 0x26, 0x09]);
  });

  it('LIST ID USAGE 01b, inline data and a non-disk peripheral type are invalid fields', () => {
    expect(reasonOf(paramList([t], [seg], 1, 1))).toEqual([IR, 0x26, 0x00]);
    const inline = Buffer.concat([paramList([t], [seg]), Buffer.alloc(4)]);
    inline.writeUInt32BE(4, 12);
    expect(reasonOf(inline)).toEqual([IR, 0x26, 0x00]);
    expect(reasonOf(paramList([cscd(lus[0]!, { byte1: 0x01 })], [seg]))).toEqual([IR, 0x26, 0x00]);
  });

  it('ignores LU ID TYPE and NUL (SPC-4)', () => {
    expect(reasonOf(paramList([cscd(lus[0]!, { byte1: 0xe0 })], [seg]))).toBe('ok');
  });

  it('the error reaches the initiator as CHECK CONDITION', async () => {
    const s = await xcopySetup();
    const p = paramList([t, t, t, t, t], [seg]);
    const r = await run(s.core, xcopyCdb(p.length), { data: p, nexus: makeNexus(1) });
    expect(sense(r)).toMatchObject({ key: IR, asc: 0x26, ascq: 0x06 });
  });
});

describe('VPD 8Fh third-party copy', () => {
  it('lists EXTENDED COPY LID1 and RECEIVE COPY RESULTS in a Supported Commands descriptor', async () => {
    const s = await xcopySetup();
    const d = dataOf(await run(s.core, [0x12, 0x01, 0x8f, 0x04, 0x00, 0x00], { nexus: makeNexus(1) }));
    expect(d[1]).toBe(0x8f);
    expect(d.readUInt16BE(2)).toBe(d.length - 4);
    expect(d.subarray(4).equals(thirdPartyCopyPage())).toBe(true);
    const types: number[] = [];
    for (let at = 4; at < d.length; at += 4 + d.readUInt16BE(at + 2)) {
      expect(d.readUInt16BE(at + 2) % 4).toBe(0);
      types.push(d.readUInt16BE(at));
    }
    expect(types).toEqual([0x0001, 0x0004, 0x0008, 0x8001]);
    // Supported Commands: list length 7, then 83h [00h], 84h [00h, 03h].
    expect([...d.subarray(8, 16)]).toEqual([7, 0x83, 1, 0x00, 0x84, 2, 0x00, 0x03]);
  });

  // SPC-4 type codes (as sg_vpd and FreeBSD CTL use them): 0004h Parameter Data, 0008h Supported
  // Descriptors. sg_vpd showed them swapped ("Maximum CSCD descriptor count: 32769") before the fix.
  it('puts the descriptor limits under Parameter Data (0004h) and the type codes under Supported Descriptors (0008h)', () => {
    const page = thirdPartyCopyPage();
    const byType = new Map<number, Buffer>();
    for (let at = 0; at < page.length; at += 4 + page.readUInt16BE(at + 2)) {
      byType.set(page.readUInt16BE(at), page.subarray(at, at + 4 + page.readUInt16BE(at + 2)));
    }
    const pd = byType.get(0x0004)!;
    expect(pd.readUInt16BE(2)).toBe(0x1c);
    expect([pd.readUInt16BE(8), pd.readUInt16BE(10), pd.readUInt32BE(12), pd.readUInt32BE(16)]).toEqual([
      XcopyLimits.maxTargetDescriptors,
      XcopyLimits.maxSegmentDescriptors,
      XcopyLimits.maxDescriptorListLength,
      0, // MAXIMUM INLINE DATA LENGTH
    ]);
    const sd = byType.get(0x0008)!;
    expect([...sd.subarray(4, 4 + 1 + sd[4]!)]).toEqual([2, 0x02, 0xe4]);
    const gco = byType.get(0x8001)!;
    expect([gco.readUInt32BE(4), gco.readUInt32BE(8), gco.readUInt32BE(12), gco[16]]).toEqual([
      XcopyLimits.maxConcurrentCopies,
      XcopyLimits.maxConcurrentCopies,
      XcopyLimits.maxSegmentBytes,
      9,
    ]);
  });
});
