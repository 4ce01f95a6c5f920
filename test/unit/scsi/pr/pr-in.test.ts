import { describe, expect, it } from 'vitest';
import { ScsiStatus } from '../../../../src/scsi/command.js';
import { decodeIscsiTransportId } from '../../../../src/scsi/pr/transport-id.js';
import { IN, prInCdb, SA, TYPES } from '../../../helpers/pr.js';
import { dataOf, run, sense } from '../fixture.js';
import { basic, prSetup } from './pr-fixture.js';

describe('PERSISTENT RESERVE IN', () => {
  it('READ KEYS lists every registration after the generation; ALLOCATION LENGTH truncates', async () => {
    const { core, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, 0x0102030405060708n);
    await basic(core, b, SA.REGISTER, 0, 0n, 0xaan);
    const full = dataOf(await run(core, prInCdb(IN.READ_KEYS), { nexus: a }));
    expect(full.toString('hex')).toBe('00000002' + '00000010' + '0102030405060708' + '00000000000000aa');
    const cut = dataOf(await run(core, prInCdb(IN.READ_KEYS, 12), { nexus: a }));
    expect(cut.toString('hex')).toBe('00000002' + '00000010' + '01020304');
  });

  it('READ RESERVATION: empty, then the holder key, scope and type; key 0 for all-registrants types', async () => {
    const { core, a } = await prSetup();
    expect(dataOf(await run(core, prInCdb(IN.READ_RESERVATION), { nexus: a })).toString('hex')).toBe('0000000000000000');
    await basic(core, a, SA.REGISTER, 0, 0n, 0x77n);
    await basic(core, a, SA.RESERVE, TYPES.EA_RO, 0x77n, 0n);
    const d = dataOf(await run(core, prInCdb(IN.READ_RESERVATION), { nexus: a }));
    expect(d.length).toBe(24);
    expect(d.readUInt32BE(4)).toBe(16);
    expect(d.readBigUInt64BE(8)).toBe(0x77n);
    expect(d[21]).toBe(0x06); // scope 0, type 6
    await basic(core, a, SA.RELEASE, TYPES.EA_RO, 0x77n, 0n);
    await basic(core, a, SA.RESERVE, TYPES.WE_AR, 0x77n, 0n);
    const ar = dataOf(await run(core, prInCdb(IN.READ_RESERVATION), { nexus: a }));
    expect(ar.readBigUInt64BE(8)).toBe(0n);
    expect(ar[21]).toBe(0x07);
  });

  it('REPORT CAPABILITIES: CRH, PTPL_C, TMV with ALLOW COMMANDS 1, all six types; PTPL_A follows APTPL', async () => {
    const { core, a } = await prSetup();
    const caps = dataOf(await run(core, prInCdb(IN.REPORT_CAPABILITIES), { nexus: a }));
    expect(caps.toString('hex')).toBe('0008' + '11' + '90' + 'ea01' + '0000');
    await basic(core, a, SA.REGISTER, 0, 0n, 1n, { aptpl: true });
    const after = dataOf(await run(core, prInCdb(IN.REPORT_CAPABILITIES), { nexus: a }));
    expect(after[3]).toBe(0x91);
  });

  it('READ FULL STATUS: one descriptor per registration with R_HOLDER, type, port id and an iSCSI TransportID', async () => {
    const { core, a, b } = await prSetup();
    await basic(core, a, SA.REGISTER, 0, 0n, 0x10n);
    await basic(core, b, SA.REGISTER, 0, 0n, 0x20n);
    await basic(core, b, SA.RESERVE, TYPES.WE, 0x20n, 0n);
    const d = dataOf(await run(core, prInCdb(IN.READ_FULL_STATUS), { nexus: a }));
    expect(d.readUInt32BE(0)).toBe(2);
    expect(d.readUInt32BE(4)).toBe(d.length - 8);
    const seen: { key: bigint; holder: boolean; type: number; port: number; initiator: string }[] = [];
    for (let off = 8; off < d.length; ) {
      const tidLen = d.readUInt32BE(off + 20);
      const tid = decodeIscsiTransportId(d.subarray(off + 24, off + 24 + tidLen));
      if (!tid.ok) throw new Error('bad TransportID');
      seen.push({ key: d.readBigUInt64BE(off), holder: (d[off + 12]! & 1) === 1, type: d[off + 13]! & 0xf, port: d.readUInt16BE(off + 18), initiator: tid.initiatorPort });
      off += 24 + tidLen;
    }
    expect(seen).toEqual([
      { key: 0x10n, holder: false, type: 0, port: 1, initiator: a.initiatorPort },
      { key: 0x20n, holder: true, type: TYPES.WE, port: 1, initiator: b.initiatorPort },
    ]);
  });

  it('an unknown service action is INVALID FIELD IN CDB pointing at it', async () => {
    const { core, a } = await prSetup();
    const r = await run(core, prInCdb(4), { nexus: a });
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(sense(r)).toMatchObject({ key: 5, asc: 0x24, fieldPointer: { cd: true, byte: 1, bit: 4 } });
  });
});
