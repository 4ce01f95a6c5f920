import { describe, expect, it } from 'vitest';
import { AccessState, AluaModel, type AluaProvider } from '../../../src/scsi/alua.js';
import { ScsiStatus } from '../../../src/scsi/command.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { cdb10, dataOf, makeLu, makeNexus, run, send, sense, setup, TARGET } from './fixture.js';

const { ACTIVE_OPTIMIZED: AO, ACTIVE_NON_OPTIMIZED: ANO, STANDBY, UNAVAILABLE, TRANSITIONING } = AccessState;

const INQUIRY = [0x12, 0, 0, 0, 96, 0];
const VPD_83 = [0x12, 1, 0x83, 1, 0, 0];
const TUR = [0, 0, 0, 0, 0, 0];
const REPORT_LUNS = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0];
const READ_CAPACITY_10 = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const MODE_SENSE_6 = [0x1a, 0, 0x3f, 0, 0xff, 0];
const REQUEST_SENSE = [0x03, 0, 0, 0, 252, 0];
const RSOC_ALL = [0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0];
const RSOC_RTPG = [0xa3, 0x0c, 0x02, 0xa3, 0, 0x0a, 0, 0, 1, 0, 0, 0];
const RTPG = [0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
const READ = cdb10(0x28, 0, 1);
const WRITE = cdb10(0x2a, 0, 1);

function model(localState: AccessState = AO): AluaModel {
  return new AluaModel({
    groups: [
      { id: 0x0102, state: localState, preferred: true, relativeTargetPortIds: [0x0a01] },
      { id: 0x0202, state: STANDBY, relativeTargetPortIds: [0x0b01] },
    ],
    local: { groupId: 0x0102, relativeTargetPortId: 0x0a01 },
    implicitTransitionSeconds: 5,
  });
}

/** VPD 83h target port designators: type -> value (4 bytes). */
function portDesignators(page: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let at = 4; at + 4 <= page.length; at += 4 + page[at + 3]!) {
    if (((page[at + 1]! >> 4) & 0x3) === 1) out.set(page[at + 1]! & 0x0f, page.subarray(at + 4, at + 4 + page[at + 3]!));
  }
  return out;
}

function supportedOpcodes(data: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 4; at < 4 + data.readUInt32BE(0); at += 8) out.push([data[at]!, data.readUInt16BE(at + 2)]);
  return out;
}

describe('without an ALUA provider (single node, the default)', () => {
  it('INQUIRY reports TPGS = 00b', async () => {
    const { core } = await setup();
    const d = dataOf(await run(core, INQUIRY));
    expect(d[5]! & 0x30).toBe(0);
    expect(d[5]).toBe(0x08);
  });

  it('REPORT TARGET PORT GROUPS is refused as an unknown MAINTENANCE IN service action, as before', async () => {
    const { core } = await setup();
    const r = await run(core, RTPG);
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(sense(r)).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 1, bit: 4 } });
    const unknown = await run(core, [0xa3, 0x1f, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect(r.sense).toEqual(unknown.sense);
    // The extended format too.
    expect((await run(core, [0xa3, 0x2a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])).sense).toEqual(unknown.sense);
  });

  it('REPORT SUPPORTED OPERATION CODES does not list A3h/0Ah', async () => {
    const { core } = await setup();
    const listed = supportedOpcodes(dataOf(await run(core, RSOC_ALL)));
    expect(listed).toContainEqual([0xa3, 0x0c]);
    expect(listed).not.toContainEqual([0xa3, 0x0a]);
    expect(dataOf(await run(core, RSOC_RTPG))[1]! & 0x07).toBe(0x01); // not supported
  });

  it('VPD 83h: the nexus relative port and target port group 0', async () => {
    const { core } = await setup();
    const nexus = makeNexus(2, 7);
    core.addNexus(nexus);
    const d = portDesignators(dataOf(await run(core, VPD_83, { nexus })));
    expect(d.get(4)?.readUInt16BE(2)).toBe(7);
    expect(d.get(5)?.readUInt16BE(2)).toBe(0);
  });

  it('no command is gated', async () => {
    const { core } = await setup();
    for (const cdb of [READ, WRITE, TUR]) expect((await run(core, cdb, { data: Buffer.alloc(512) })).status).toBe(ScsiStatus.GOOD);
  });
});

describe('with an ALUA provider', () => {
  it('INQUIRY reports TPGS = 01b (implicit), 3PC kept; none for a LUN without an LU', async () => {
    const { core } = await setup();
    core.setAluaProvider(model());
    const d = dataOf(await run(core, INQUIRY));
    expect(d[5]! & 0x30).toBe(0x10);
    expect(d[5]).toBe(0x18);
    const none = dataOf(await run(core, INQUIRY, { lun: 5 }));
    expect(none[0]).toBe(0x7f);
    expect(none[5]).toBe(0);
  });

  it('VPD 83h carries the local group id and relative port id of the provider, with PIV and iSCSI protocol', async () => {
    const { core } = await setup();
    core.setAluaProvider(model());
    const page = dataOf(await run(core, VPD_83));
    const d = portDesignators(page);
    expect(d.get(4)?.readUInt16BE(2)).toBe(0x0a01);
    expect(d.get(5)?.readUInt16BE(2)).toBe(0x0102);
    // Both descriptors: protocol 5h, binary, PIV, association target port.
    let found = 0;
    for (let at = 4; at < page.length; at += 4 + page[at + 3]!) {
      const type = page[at + 1]! & 0x0f;
      if (type === 4 || type === 5) {
        expect(page[at]).toBe(0x51);
        expect(page[at + 1]).toBe(0x90 | type);
        found++;
      }
    }
    expect(found).toBe(2);
  });

  it('REPORT SUPPORTED OPERATION CODES lists A3h/0Ah with its CDB usage', async () => {
    const { core } = await setup();
    core.setAluaProvider(model());
    expect(supportedOpcodes(dataOf(await run(core, RSOC_ALL)))).toContainEqual([0xa3, 0x0a]);
    const one = dataOf(await run(core, RSOC_RTPG));
    expect(one[1]! & 0x07).toBe(0x03);
    expect(one.readUInt16BE(2)).toBe(12);
    expect([...one.subarray(4, 16)]).toEqual([0xa3, 0xea, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0]);
  });

  it('a nexus with a LUN view sees ALUA too', async () => {
    const { core, nexus } = await setup();
    core.setNexusView(nexus, new Map([[3, { lun: 0, readOnly: false }]]));
    core.setAluaProvider(model(STANDBY));
    expect(sense(await run(core, INQUIRY, { nexus, lun: 3 }))).toBeUndefined();
    const ua = await run(core, TUR, { nexus, lun: 3 }); // REPORTED LUNS DATA HAS CHANGED from the view
    expect(sense(ua)).toMatchObject({ key: 6 });
    expect(dataOf(await run(core, INQUIRY, { nexus, lun: 3 }))[5]! & 0x30).toBe(0x10);
    expect(dataOf(await run(core, RTPG, { nexus, lun: 3 })).readUInt32BE(0)).toBe(24);
    expect(sense(await run(core, READ, { nexus, lun: 3 }))).toEqual({ key: 2, asc: 0x04, ascq: 0x0b });
  });

  it('turned off again: TPGS 0, RTPG refused, nothing gated, state changes raise nothing', async () => {
    const { core } = await setup();
    const m = model(STANDBY);
    core.setAluaProvider(m);
    core.setAluaProvider(undefined);
    expect(dataOf(await run(core, INQUIRY))[5]).toBe(0x08);
    expect(sense(await run(core, RTPG))).toEqual({ key: 5, asc: 0x24, ascq: 0, fieldPointer: { cd: true, byte: 1, bit: 4 } });
    expect((await run(core, READ)).status).toBe(ScsiStatus.GOOD);
    m.setState(0x0102, AO);
    expect((await run(core, TUR)).status).toBe(ScsiStatus.GOOD);
  });
});

describe('the access state gate', () => {
  type Expect = 'good' | [number, number];
  const NR = (ascq: number): Expect => [0x04, ascq];
  const cases: [string, number[] | Buffer][] = [
    ['READ(10)', READ],
    ['WRITE(10)', WRITE],
    ['INQUIRY', INQUIRY],
    ['TEST UNIT READY', TUR],
    ['REPORT LUNS', REPORT_LUNS],
    ['REPORT TARGET PORT GROUPS', RTPG],
    ['READ CAPACITY(10)', READ_CAPACITY_10],
    ['MODE SENSE(6)', MODE_SENSE_6],
    ['REQUEST SENSE', REQUEST_SENSE],
    ['REPORT SUPPORTED OPERATION CODES', RSOC_ALL],
  ];
  const table: [string, AccessState, Expect[]][] = [
    ['active/optimized', AO, ['good', 'good', 'good', 'good', 'good', 'good', 'good', 'good', 'good', 'good']],
    ['active/non-optimized', ANO, ['good', 'good', 'good', 'good', 'good', 'good', 'good', 'good', 'good', 'good']],
    ['standby', STANDBY, [NR(0x0b), NR(0x0b), 'good', NR(0x0b), 'good', 'good', 'good', 'good', 'good', 'good']],
    ['unavailable', UNAVAILABLE, [NR(0x0c), NR(0x0c), 'good', NR(0x0c), 'good', 'good', NR(0x0c), NR(0x0c), 'good', 'good']],
    ['transitioning', TRANSITIONING, [NR(0x0a), NR(0x0a), 'good', NR(0x0a), 'good', 'good', NR(0x0a), NR(0x0a), 'good', 'good']],
  ];
  for (const [name, state, expected] of table) {
    it(`${name}`, async () => {
      const { core, dev } = await setup();
      dev.buffer.fill(0x5a, 0, 512);
      core.setAluaProvider(model(state));
      for (const [i, [cmd, cdb]] of cases.entries()) {
        const r = await run(core, cdb, { data: Buffer.alloc(512, 0xee) });
        const want = expected[i]!;
        if (want === 'good') {
          expect(r.status, cmd).toBe(ScsiStatus.GOOD);
        } else {
          expect(r.status, cmd).toBe(ScsiStatus.CHECK_CONDITION);
          expect(sense(r), cmd).toEqual({ key: 2, asc: want[0], ascq: want[1] });
        }
      }
      // A refused WRITE left the medium alone.
      expect(dev.buffer[0]).toBe(state === AO || state === ANO ? 0xee : 0x5a);
    });
  }

  it('a local group missing from the provider groups is treated as unavailable', async () => {
    const { core } = await setup();
    const broken: AluaProvider = {
      groups: () => [{ id: 1, state: AO, preferred: false, status: 0, relativeTargetPortIds: [1] }],
      localGroup: () => ({ groupId: 2, relativeTargetPortId: 2 }),
    };
    core.setAluaProvider(broken);
    expect(sense(await run(core, READ))).toEqual({ key: 2, asc: 0x04, ascq: 0x0c });
  });

  it('a task queued while active is refused when it starts in standby', async () => {
    const { core, nexus } = await setup();
    const m = model(AO);
    core.setAluaProvider(m);
    // An ORDERED command ahead holds the task set; the READ waits behind it.
    const first = send(core, cdb10(0x28, 0, 1), { nexus, attr: 'ordered' });
    const second = send(core, READ, { nexus });
    expect(second.prepared.kind).toBe('execute');
    m.setState(0x0102, STANDBY);
    expect((await first.response).status).toBe(ScsiStatus.GOOD);
    expect(sense(await second.response)).toEqual({ key: 2, asc: 0x04, ascq: 0x0b });
  });
});

describe('state changes', () => {
  it('establish ASYMMETRIC ACCESS STATE CHANGED for every I_T nexus on every LU, once', async () => {
    const lu0 = makeLu(new MemDevice(64, 512), { lun: 0 });
    const lu1 = makeLu(new MemDevice(64, 512), { lun: 1 });
    const m = model(STANDBY);
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu0, lu1], alua: m });
    const a = makeNexus(1);
    const b = makeNexus(2);
    for (const n of [a, b]) {
      core.addNexus(n);
      for (const lun of [0, 1]) expect(sense(await run(core, TUR, { nexus: n, lun }))).toMatchObject({ key: 6, asc: 0x29 });
    }
    expect(m.setState(0x0102, AO)).toBe(true);
    expect(m.setState(0x0102, AO)).toBe(false); // no change, no second attention
    for (const n of [a, b]) {
      for (const lun of [0, 1]) {
        expect(sense(await run(core, TUR, { nexus: n, lun }))).toEqual({ key: 6, asc: 0x2a, ascq: 0x06 });
        expect((await run(core, TUR, { nexus: n, lun })).status).toBe(ScsiStatus.GOOD);
      }
    }
    // INQUIRY neither reports nor clears it.
    m.setState(0x0102, TRANSITIONING);
    expect((await run(core, INQUIRY, { nexus: a })).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(core, READ, { nexus: a }))).toEqual({ key: 6, asc: 0x2a, ascq: 0x06 });
    expect(sense(await run(core, READ, { nexus: a }))).toEqual({ key: 2, asc: 0x04, ascq: 0x0a });
  });

  it('asymmetricAccessChanged(luns) reaches only those LUs', async () => {
    const lu0 = makeLu(new MemDevice(64, 512), { lun: 0 });
    const lu1 = makeLu(new MemDevice(64, 512), { lun: 1 });
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu0, lu1], alua: model() });
    const a = makeNexus(1);
    core.addNexus(a);
    for (const lun of [0, 1]) await run(core, TUR, { nexus: a, lun });
    core.asymmetricAccessChanged([1, 9]);
    expect((await run(core, TUR, { nexus: a, lun: 0 })).status).toBe(ScsiStatus.GOOD);
    expect(sense(await run(core, TUR, { nexus: a, lun: 1 }))).toEqual({ key: 6, asc: 0x2a, ascq: 0x06 });
  });

  it('setStates changes several groups with one attention; bad changes throw and change nothing', async () => {
    const m = model(AO);
    let calls = 0;
    m.onChange(() => calls++);
    expect(m.setStates(new Map([[0x0102, STANDBY], [0x0202, AO]]))).toBe(true);
    expect(calls).toBe(1);
    expect([m.stateOf(0x0102), m.stateOf(0x0202)]).toEqual([STANDBY, AO]);
    expect(() => m.setStates(new Map([[0x0102, AO], [0x9999, AO]]))).toThrow(/no target port group/);
    expect(m.stateOf(0x0102)).toBe(STANDBY);
    const limited = new AluaModel({
      groups: [{ id: 1, state: AO, relativeTargetPortIds: [1] }],
      local: { groupId: 1, relativeTargetPortId: 1 },
      supportedStates: [AO, STANDBY],
    });
    expect(() => limited.setState(1, UNAVAILABLE)).toThrow(/not supported/);
  });

  it('the model refuses inconsistent groups', () => {
    const g = (id: number, ports: number[]) => ({ id, state: AO, relativeTargetPortIds: ports });
    const local = { groupId: 1, relativeTargetPortId: 1 };
    expect(() => new AluaModel({ groups: [g(1, [1]), g(1, [2])], local })).toThrow(/twice/);
    expect(() => new AluaModel({ groups: [g(1, [1]), g(2, [1])], local })).toThrow(/two groups/);
    expect(() => new AluaModel({ groups: [g(1, [0])], local })).toThrow(/1\.\.65535/);
    expect(() => new AluaModel({ groups: [g(70000, [1])], local })).toThrow(/0\.\.65535/);
    expect(() => new AluaModel({ groups: [g(2, [1])], local })).toThrow(/not defined/);
    expect(() => new AluaModel({ groups: [g(1, [2])], local })).toThrow(/not in group/);
    expect(() => new AluaModel({ groups: [g(1, [1])], local, implicitTransitionSeconds: 256 })).toThrow(/0\.\.255/);
  });
});
