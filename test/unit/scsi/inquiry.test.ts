import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { deriveNaaId } from '../../../src/scsi/naa.js';
import { dataOf, makeNexus, run, sense, setup, TARGET } from './fixture.js';

function inquiryCdb(allocation: number, evpd = false, page = 0, byte1 = 0): number[] {
  return [0x12, (evpd ? 1 : 0) | byte1, page, allocation >> 8, allocation & 0xff, 0];
}

const INVALID_FIELD = (byte: number, bit?: number) => ({
  key: 5,
  asc: 0x24,
  ascq: 0,
  fieldPointer: bit === undefined ? { cd: true, byte } : { cd: true, byte, bit },
});

describe('standard INQUIRY data', () => {
  it('describes an SPC-4 direct-access LU with HiSup and CmdQue in 96 bytes', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, inquiryCdb(260)));
    expect(d.length).toBe(96);
    expect(d[0]).toBe(0x00); // qualifier 000b, type 00h
    expect(d[1]).toBe(0x00); // not removable
    expect(d[2]).toBe(0x06); // SPC-4
    expect(d[3]).toBe(0x12); // HISUP, response data format 2
    expect(d[4]).toBe(91); // additional length = 96 - 5
    expect(d[5]).toBe(0x08); // 3PC (EXTENDED COPY), no PROTECT, TPGS 00b
    expect(d[7]).toBe(0x02); // CMDQUE
    expect(d.toString('ascii', 8, 16)).toBe('SCATTER ');
    expect(d.toString('ascii', 16, 32)).toBe('SCATTER-DISK    ');
    expect(d.toString('ascii', 32, 36)).toBe('0001');
    expect([d.readUInt16BE(58), d.readUInt16BE(60), d.readUInt16BE(62), d.readUInt16BE(64)]).toEqual([0x00a0, 0x0460, 0x04c0, 0]);
  });

  it('pads and sanitises configured identification strings', async () => {
    const { core } = await setup(64, { vendor: 'ACME', product: 'Disk\u00e9 with a very long name', revision: '1' });
    const d = dataOf(await run(core, inquiryCdb(96)));
    expect(d.toString('ascii', 8, 16)).toBe('ACME    ');
    expect(d.toString('ascii', 16, 32)).toBe('Disk? with a ver');
    expect(d.toString('ascii', 32, 36)).toBe('1   ');
  });

  it('is cut to the ALLOCATION LENGTH, which is 16 bits wide', async () => {
    const { core } = await setup();
    const full = dataOf(await run(core, inquiryCdb(512)));
    for (const n of [0, 5, 36, 95]) {
      const d = dataOf(await run(core, inquiryCdb(n)));
      expect(d.equals(full.subarray(0, n))).toBe(true);
    }
    expect(dataOf(await run(core, inquiryCdb(511))).equals(full)).toBe(true);
  });

  it('refuses CMDDT and a page code without EVPD', async () => {
    const { core } = await setup();
    expect(sense(await run(core, inquiryCdb(96, false, 0, 0x02)))).toEqual(INVALID_FIELD(1, 1));
    expect(sense(await run(core, inquiryCdb(256, false, 1)))).toEqual(INVALID_FIELD(2));
  });

  it('answers for a LUN with no LU: qualifier 011b, type 1Fh', async () => {
    const { core } = await setup();
    const r = await run(core, inquiryCdb(96), { lun: 9 });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(dataOf(r)[0]).toBe(0x7f);
    const vpd0 = await run(core, inquiryCdb(255, true, 0x00), { lun: 9 });
    expect([...dataOf(vpd0)]).toEqual([0x7f, 0x00, 0x00, 0x01, 0x00]);
    expect(sense(await run(core, inquiryCdb(255, true, 0x83), { lun: 9 }))).toEqual(INVALID_FIELD(2));
  });
});

describe('VPD pages', () => {
  it('00h lists the supported pages in ascending order, and each of them can be read', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, inquiryCdb(255, true, 0x00)));
    expect([...d]).toEqual([0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1]);
    for (const page of d.subarray(4)) {
      const p = dataOf(await run(core, inquiryCdb(255, true, page)));
      expect(p[1]).toBe(page);
      expect(p.readUInt16BE(2)).toBe(p.length - 4);
    }
  });

  it('an unsupported page is INVALID FIELD IN CDB at the PAGE CODE', async () => {
    const { core } = await setup();
    expect(sense(await run(core, inquiryCdb(255, true, 0xb2)))).toEqual(INVALID_FIELD(2));
  });

  it('80h carries the unit serial number', async () => {
    const { core } = await setup(64, { serial: 'abc123' });
    expect([...dataOf(await run(core, inquiryCdb(255, true, 0x80)))]).toEqual([0, 0x80, 0, 6, ...Buffer.from('abc123')]);
  });

  it('83h carries NAA, T10 vendor id, relative port, port group and SCSI names', async () => {
    const nexus = makeNexus(1, 3);
    const { core } = await setup(64, { serial: 'SER1' });
    const d = dataOf(await run(core, inquiryCdb(1024, true, 0x83), { nexus }));
    expect(d.readUInt16BE(2)).toBe(d.length - 4);
    const descriptors: { b0: number; b1: number; value: Buffer }[] = [];
    for (let p = 4; p < d.length; p += 4 + d[p + 3]!) descriptors.push({ b0: d[p]!, b1: d[p + 1]!, value: d.subarray(p + 4, p + 4 + d[p + 3]!) });
    expect(descriptors.map((x) => [x.b0, x.b1])).toEqual([
      [0x01, 0x03], // binary, LU, NAA
      [0x02, 0x01], // ASCII, LU, T10 vendor id
      [0x51, 0x94], // iSCSI + binary, PIV, target port, relative target port
      [0x51, 0x95], // iSCSI + binary, PIV, target port, target port group
      [0x53, 0x98], // iSCSI + UTF-8, PIV, target port, SCSI name string
      [0x53, 0xa8], // iSCSI + UTF-8, PIV, target device, SCSI name string
    ]);
    expect(descriptors[0]!.value.equals(deriveNaaId(TARGET, 0))).toBe(true);
    expect(descriptors[1]!.value.toString('ascii')).toBe('SCATTER SER1');
    expect([...descriptors[2]!.value]).toEqual([0, 0, 0, 3]);
    expect([...descriptors[3]!.value]).toEqual([0, 0, 0, 0]);
    const portName = descriptors[4]!.value;
    expect(portName.length % 4).toBe(0);
    expect(portName.toString('utf8').replace(/\0+$/, '')).toBe(`${TARGET},t,0x0001`);
    expect(portName[portName.length - 1]).toBe(0);
    expect(descriptors[5]!.value.toString('utf8').replace(/\0+$/, '')).toBe(TARGET);
  });

  it('B0h block limits: SBC-3 length, transfer limits, no UNMAP', async () => {
    const { core } = await setup(64, { maxTransferLength: 2048 });
    const d = dataOf(await run(core, inquiryCdb(255, true, 0xb0)));
    expect(d.length).toBe(64);
    expect(d.readUInt16BE(2)).toBe(0x3c);
    expect(d.readUInt16BE(6)).toBe(8); // 4 KiB granularity in 512-byte blocks
    expect(d.readUInt32BE(8)).toBe(2048); // MAXIMUM TRANSFER LENGTH
    expect(d.readUInt32BE(12)).toBe(2048); // OPTIMAL TRANSFER LENGTH
    expect(d.readUInt32BE(20)).toBe(0); // MAXIMUM UNMAP LBA COUNT
    expect(d.readUInt32BE(24)).toBe(0); // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
  });

  it('B0h defaults MAXIMUM TRANSFER LENGTH to 8 MiB worth of blocks', async () => {
    const { core } = await setup(64, {}, 4096);
    const d = dataOf(await run(core, inquiryCdb(255, true, 0xb0)));
    expect(d.readUInt16BE(6)).toBe(1);
    expect(d.readUInt32BE(8)).toBe(2048);
  });

  it('B1h reports a non-rotating medium', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, inquiryCdb(255, true, 0xb1)));
    expect(d.length).toBe(64);
    expect(d.readUInt16BE(4)).toBe(1);
  });

  it('VPD pages are cut to the ALLOCATION LENGTH', async () => {
    const { core } = await setup();
    expect(dataOf(await run(core, inquiryCdb(4, true, 0x83))).length).toBe(4);
  });
});

describe('deriveNaaId', () => {
  it('is a stable NAA 6h designator that differs per LUN and target', () => {
    const a = deriveNaaId(TARGET, 0);
    expect(a.length).toBe(16);
    expect(a[0]! >> 4).toBe(6);
    expect(deriveNaaId(TARGET, 0).equals(a)).toBe(true);
    expect(deriveNaaId(TARGET, 1).equals(a)).toBe(false);
    expect(deriveNaaId(`${TARGET}x`, 0).equals(a)).toBe(false);
  });

  it('places the company id after the NAA nibble', () => {
    const id = deriveNaaId(TARGET, 0, 0xabcdef);
    expect(id[0]).toBe(0x6a);
    expect(id[1]).toBe(0xbc);
    expect(id[2]).toBe(0xde);
    expect(id[3]! >> 4).toBe(0xf);
  });
});
