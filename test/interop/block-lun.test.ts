import { randomBytes } from 'node:crypto';
import { constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScatter, type Scatter } from '../../src/server/start.js';
import { testUnitReady } from '../helpers/cdb.js';
import { parseCunit } from '../helpers/cunit.js';
import { TestInitiator } from '../helpers/initiator.js';
import { createLoop, loopAvailable, type LoopDevice } from '../helpers/loop.js';
import { IN, parseReadKeys, parseReadReservation, prInCdb, prOutCdb, prOutParams, SA, TYPES } from '../helpers/pr.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';
import { missingTools, run } from '../helpers/tools.js';
import { openFlags } from '../helpers/proc-fds.js';

const DEVICE = 64 * 1024 * 1024;
/** libiscsi runs these only when LOGICAL BLOCKS PER PHYSICAL BLOCK > 1 (the LU reports 1). */
const LBPPB_ONLY = new Set(['InvalidDataOutSize', 'UnmapUnaligned']);
const SUITES = [
  'ALL.Read10',
  'ALL.Read12',
  'ALL.Read16',
  'ALL.Write10',
  'ALL.Write12',
  'ALL.Write16',
  'ALL.WriteSame10',
  'ALL.WriteSame16',
  'ALL.Unmap',
  'ALL.Verify10',
  'ALL.Verify12',
  'ALL.Verify16',
];

// Evaluated in this order so that under CI both a missing tool and a missing losetup fail loudly.
const missing = missingTools(['qemu-img', 'iscsi-test-cu', 'iscsi-readcapacity16']);
const canLoop = loopAvailable();

describe.skipIf(missing.length > 0 || !canLoop)('block LUNs on loop devices (512 and 4096-byte sectors, O_DIRECT)', () => {
  let t: TestTarget;
  const loops: LoopDevice[] = [];
  const lunDev = (lun: number): string => (lun === 2 ? join(t.dir, 'direct.img') : loops[lun]!.dev);

  beforeAll(async () => {
    loops.push(createLoop(DEVICE, 512), createLoop(DEVICE, 4096));
    t = await startTestTarget((raw, dir) => {
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'block', path: loops[0]!.dev } },
        { lun: 1, backstore: { type: 'block', path: loops[1]!.dev } },
        { lun: 2, backstore: { type: 'file', path: join(dir, 'direct.img'), size: DEVICE, blockSize: 4096, direct: true } },
      ];
    });
  });
  afterAll(async () => {
    await t?.stop();
    for (const l of loops) l.detach();
  });

  const url = (lun: number): string => `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/${lun}`;

  it.each([
    [0, 512],
    [1, 4096],
  ])('READ CAPACITY(16) of LUN %i reports the device: %i-byte blocks, whole size, thin', async (lun, block) => {
    const r = await run('iscsi-readcapacity16', [url(lun)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`LOGICAL BLOCK LENGTH IN BYTES:${block}\\b`));
    expect(r.stdout).toMatch(new RegExp(`Total size:\\s*${DEVICE}\\b`));
    expect(r.stdout).toMatch(/LBPME:1/);
  });

  it.each([0, 1, 2])('qemu-img convert into LUN %i (block 512, block 4096, file direct) and back is byte-identical, and the bytes are on the device', async (lun) => {
    const original = randomBytes(DEVICE);
    const source = join(t.dir, `source-${lun}.raw`);
    const back = join(t.dir, `back-${lun}.raw`);
    writeFileSync(source, original);
    const into = await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', '-n', source, url(lun)], 120_000);
    expect(into.code, into.stderr).toBe(0);
    // Read the loop device itself, bypassing the target.
    expect(readFileSync(lunDev(lun)).equals(original)).toBe(true);
    const out = await run('qemu-img', ['convert', '-f', 'raw', url(lun), '-O', 'raw', back], 120_000);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(back).equals(original)).toBe(true);
    // Over iSCSI, Data-Out lands in heap buffers (bounced); reads land in pool pages (direct).
    const q = t.scatter.lunRegistry.get(TEST_IQN, lun)!.queue!;
    expect(q.stats.bouncedBytes).toBeGreaterThanOrEqual(DEVICE);
    expect(q.stats.directBytes).toBeGreaterThanOrEqual(DEVICE);
  });

  for (const name of SUITES) {
    it.each([0, 1])(`${name} on block LUN %i: no FAILED, no SKIPPED but the LBPPB-only tests`, async (lun) => {
      const r = await run('iscsi-test-cu', ['-d', '-v', '-t', name, url(lun)], 300_000);
      const out = r.stdout + r.stderr;
      const res = parseCunit(out);
      expect(res.summary, out).toBeDefined();
      expect(res.summary!.ran, out).toBeGreaterThan(0);
      expect(res.failed, out).toEqual([]);
      expect(res.skipped.filter((s) => !LBPPB_ONLY.has(s)), out).toEqual([]);
      expect(r.code, out).toBe(0);
    });
  }
});

/** A number from the device's sysfs directory (queue/... or the device's own attributes). */
function sysfs(dev: string, attribute: string): number {
  return Number.parseInt(readFileSync(`/sys/block/${basename(dev)}/${attribute}`, 'utf8').trim(), 10);
}

/** `name:value` fields (one or more a line) of iscsi-readcapacity16 / iscsi-inq output, as numbers. */
function field(out: string, name: string): number {
  const m = new RegExp(`(?:^|\\s)${name}:\\s*(\\d+)`, 'mi').exec(out);
  if (!m) throw new Error(`no "${name}" in:\n${out}`);
  return Number(m[1]);
}


/** libiscsi tests that need LOGICAL BLOCKS PER PHYSICAL BLOCK > 1; they must run, not skip, on a 512/4096 LU. */
const LBPPB_TESTS = [
  'CompareAndWrite.InvalidDataOutSize',
  'WriteSame10.UnmapUnaligned',
  'WriteSame10.InvalidDataOutSize',
  'WriteSame16.UnmapUnaligned',
  'WriteSame16.InvalidDataOutSize',
];

describe.skipIf(missing.length > 0 || !canLoop)('device geometry, writeCache and APTPL of block LUNs; physicalBlockSize of file LUNs', () => {
  let t: TestTarget;
  const loops: LoopDevice[] = [];

  beforeAll(async () => {
    loops.push(createLoop(DEVICE, 512), createLoop(DEVICE, 4096));
    t = await startTestTarget((raw, dir) => {
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'block', path: loops[0]!.dev } },
        { lun: 1, backstore: { type: 'block', path: loops[1]!.dev, writeCache: false } },
        { lun: 2, backstore: { type: 'file', path: join(dir, 'pbs.img'), size: DEVICE, blockSize: 512, physicalBlockSize: 4096, thin: true } },
      ];
    });
  });
  afterAll(async () => {
    await t?.stop();
    for (const l of loops) l.detach();
  });

  const url = (lun: number): string => `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/${lun}`;

  it.each([0, 1])('LUN %i: READ CAPACITY(16) and VPD B0h / B2h say what sysfs says about the loop device', async (lun) => {
    const dev = loops[lun]!.dev;
    const lbs = sysfs(dev, 'queue/logical_block_size');
    const pbs = sysfs(dev, 'queue/physical_block_size');
    const rc = await run('iscsi-readcapacity16', [url(lun)]);
    expect(rc.code, rc.stderr).toBe(0);
    expect(field(rc.stdout, 'LOGICAL BLOCK LENGTH IN BYTES')).toBe(lbs);
    expect(field(rc.stdout, 'LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT')).toBe(Math.log2(pbs / lbs));
    expect(field(rc.stdout, 'LOWEST ALIGNED LOGICAL BLOCK ADDRESS')).toBe(Math.max(0, sysfs(dev, 'alignment_offset')) / lbs);
    const zeroes = sysfs(dev, 'queue/write_zeroes_max_bytes') > 0 || sysfs(dev, 'queue/discard_zeroes_data') === 1;
    expect(field(rc.stdout, 'LBPRZ')).toBe(zeroes ? 1 : 0);

    const b0 = await run('iscsi-inq', ['-e', '1', '-c', String(0xb0), url(lun)]);
    expect(b0.code, b0.stderr).toBe(0);
    const minIo = Math.max(pbs, sysfs(dev, 'queue/minimum_io_size'));
    expect(field(b0.stdout, 'optimal transfer length granularity')).toBe(minIo / lbs);
    expect(field(b0.stdout, 'optimal unmap granularity')).toBe(Math.max(lbs, sysfs(dev, 'queue/discard_granularity')) / lbs);
    expect(field(b0.stdout, 'maximum unmap lba count')).toBe(Math.min(0x100000, Math.floor(sysfs(dev, 'queue/discard_max_bytes') / lbs)));
    expect(field(b0.stdout, 'ugavalid')).toBe(1);
    const b2 = await run('iscsi-inq', ['-e', '1', '-c', String(0xb2), url(lun)]);
    expect(field(b2.stdout, 'lbprz')).toBe(zeroes ? 1 : 0);
  });

  it('a file LUN with physicalBlockSize 4096 over 512-byte blocks reports 8 logical blocks per physical block', async () => {
    const rc = await run('iscsi-readcapacity16', [url(2)]);
    expect(field(rc.stdout, 'LOGICAL BLOCK LENGTH IN BYTES')).toBe(512);
    expect(field(rc.stdout, 'LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT')).toBe(3);
    const b0 = await run('iscsi-inq', ['-e', '1', '-c', String(0xb0), url(2)]);
    expect(field(b0.stdout, 'optimal transfer length granularity')).toBe(8);
  });

  it('libiscsi CompareAndWrite, WriteSame10/16 and Unmap pass on it, the LBPPB > 1 tests included', async () => {
    const r = await run('iscsi-test-cu', ['-d', '-t', 'ALL.CompareAndWrite,ALL.WriteSame10,ALL.WriteSame16,ALL.Unmap', url(2)], 300_000);
    const out = r.stdout + r.stderr;
    const res = parseCunit(out);
    expect(res.summary, out).toBeDefined();
    expect(res.failed, out).toEqual([]);
    expect(res.skipped, out).toEqual([]);
    for (const name of LBPPB_TESTS) {
      const [suite, test] = name.split('.');
      expect(out, name).toMatch(new RegExp(`Suite: ${suite}\\n(?:  Test: .*\\n)*?  Test: ${test} \\.\\.\\.passed`));
    }
    expect(r.code, out).toBe(0);
  });

  it('writeCache: false opens the device O_DSYNC and MODE SENSE shows WCE 0; the default shows WCE 1', async () => {
    expect(openFlags(loops[1]!.dev).map((f) => f & constants.O_DSYNC)).toEqual([constants.O_DSYNC]);
    expect(openFlags(loops[0]!.dev).map((f) => f & constants.O_DSYNC)).toEqual([0]);
    const i = await TestInitiator.connect(t.port);
    try {
      expect((await i.login({ targetName: TEST_IQN })).status).toEqual([0, 0]);
      for (const [lun, wce] of [
        [1, 0],
        [0, 1],
      ] as const) {
        await i.command({ lun, cdb: testUnitReady() }); // the power-on unit attention
        // MODE SENSE(6), DBD, caching page 08h: 4-byte header, then the page; WCE is bit 2 of its byte 2.
        const r = await i.command({ lun, cdb: Buffer.from([0x1a, 0x08, 0x08, 0, 255, 0]), read: 255 });
        expect(r.status).toBe(0);
        expect(r.data[4]! & 0x3f).toBe(0x08);
        expect((r.data[6]! >> 2) & 1).toBe(wce);
      }
    } finally {
      i.close();
    }
  });

  it('a persistent reservation with APTPL on a block LUN survives a restart, stored under stateDir/pr', async () => {
    const file = join(t.config.stateDir, 'pr', `${TEST_IQN}-0.json`);
    const host = { initiatorName: 'iqn.2026-11.io.example:aptpl-host', isid: Buffer.from('80123456c001', 'hex') };
    const login = async (port: number): Promise<TestInitiator> => {
      const i = await TestInitiator.connect(port);
      expect((await i.login({ targetName: TEST_IQN, ...host })).status).toEqual([0, 0]);
      await i.command({ cdb: testUnitReady() });
      return i;
    };
    const a = await login(t.port);
    const out = (sa: number, type: number, key: bigint, sark: bigint, aptpl: boolean) =>
      a.command({ cdb: prOutCdb(sa, type), write: prOutParams(key, sark, { aptpl }) });
    expect((await out(SA.REGISTER, 0, 0n, 0xd1n, true)).status).toBe(0);
    expect((await out(SA.RESERVE, TYPES.WE_RO, 0xd1n, 0n, false)).status).toBe(0);
    expect(existsSync(file)).toBe(true);
    a.close();

    await t.scatter.stop(0);
    let again: Scatter | undefined;
    try {
      again = await startScatter(t.config, pino({ level: 'silent' }));
      const b = await login(again.ports[0]!);
      try {
        expect((parseReadKeys((await b.command({ cdb: prInCdb(IN.READ_KEYS), read: 4096 })).data)).keys).toEqual([0xd1n]);
        const res = parseReadReservation((await b.command({ cdb: prInCdb(IN.READ_RESERVATION), read: 4096 })).data);
        expect(res).toMatchObject({ key: 0xd1n, type: TYPES.WE_RO });
        // Clean up: the registration goes, and so does the file.
        expect((await b.command({ cdb: prOutCdb(SA.CLEAR, 0), write: prOutParams(0xd1n, 0n) })).status).toBe(0);
        expect(existsSync(file)).toBe(false);
      } finally {
        b.close();
      }
    } finally {
      await again?.stop(0);
      // t.stop() below would stop the first instance again (a no-op) and remove the dir.
      t.scatter = again ?? t.scatter;
    }
  });
});
