/**
 * Scenario 6: sg_xcopy (sg3-utils) in the VM copies between LUNs of one target with
 * EXTENDED COPY (LID1): LUN 0 -> 1 with 512-byte blocks (one whole-range command, then
 * skip=/seek= offsets in bpt-sized commands), LUN 2 -> 3 with 4096-byte blocks (bs=4096,
 * the command sent to the source LU). The relay counts the EXTENDED COPY CDBs on the wire
 * (no silent read/write fallback can pass), the guest compares the ranges with O_DIRECT
 * reads, and the host compares the backing files byte for byte afterwards.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { INITIATOR_IQN, TARGET_IQN, expectClean, pattern, theVm, timings } from './harness.js';
import { TargetProcess, counterDelta } from './target-proc.js';
import { runVm } from './vm/run-vm.js';

const LUN_BYTES = 16 * 1024 * 1024;
const BLOCK = [512, 512, 4096, 4096] as const;

/** The copies scenario_xcopy runs: source LUN, destination LUN, blocks, source LBA, destination LBA, commands. */
const COPIES = [
  { from: 0, to: 1, blocks: 8192, skip: 0, seek: 0, commands: 1 },
  { from: 0, to: 1, blocks: 5000, skip: 10000, seek: 20001, commands: 5 },
  { from: 2, to: 3, blocks: 1500, skip: 7, seek: 1000, commands: 6 },
] as const;

const XCOPY_OPCODE = '83';
const RECEIVE_COPY_RESULTS_OPCODE = '84';
const WRITE_OPCODES = ['2a', '8a', 'aa', '0a', '41', '93'];

describe('sg_xcopy (EXTENDED COPY from the Linux initiator) in a VM', () => {
  let target: TargetProcess | undefined;
  afterEach(async () => {
    await target?.dispose();
    target = undefined;
  });

  it('copies ranges between LUNs of one target with EXTENDED COPY commands only', async () => {
    const vm = theVm();
    const t = (target = new TargetProcess((self) => ({
      iscsi: { nopInInterval: 5, nopInTimeout: 5 },
      memory: { poolPages: 64, pageSize: 65536 },
      targets: [
        {
          iqn: TARGET_IQN,
          luns: BLOCK.map((blockSize, lun) => ({
            lun,
            backstore: { type: 'file', path: self.lunPath(`lun${lun}.img`), size: LUN_BYTES, blockSize },
          })),
        },
      ],
    })));
    // The sources hold a host-made pattern; the destinations start as zeros.
    const initial = BLOCK.map((_, lun) => (lun % 2 === 0 ? pattern(LUN_BYTES / (1024 * 1024)) : Buffer.alloc(LUN_BYTES)));
    initial.forEach((data, lun) => writeFileSync(t.lunPath(`lun${lun}.img`), data));
    await t.start();

    let atStart = t.relayCounters();
    let window: Record<string, number> | undefined;
    const r = await runVm(vm, {
      scenario: 'xcopy',
      env: { IQN: TARGET_IQN, INITIATOR: INITIATOR_IQN, TARGET_PORT: t.port },
      pattern: pattern(1),
      portFile: t.portFile,
      relayPidDir: t.relayPidDir,
      timeoutMs: 150_000,
      onLine: (line) => {
        // The guest waits a second before each of these, so the relays' counters are current.
        if (line.startsWith('E2E-STEP xcopy-start')) atStart = t.relayCounters();
        if (line.startsWith('E2E-STEP xcopy-done')) window = counterDelta(atStart.cdbsToTarget, t.relayCounters().cdbsToTarget);
      },
    });
    console.log(`xcopy: ${timings(r)} cdbs-during-copies=${JSON.stringify(window)}`);
    if (process.env.E2E_VERBOSE) console.log(`${r.console}\n${t.rawLog.join('\n')}`);
    expectClean(r, t);

    // sg_vpd's decode of VPD 8Fh: 4 CSCD descriptors at most, two supported descriptor type codes (02h, E4h).
    expect(r.metrics.get('vpd_max_cscd')).toBe('4');
    expect(r.metrics.get('vpd_descriptors')).toBe('2');
    const commands = COPIES.reduce((n, c) => n + c.commands, 0);
    expect(r.metrics.get('xcopies')).toBe(String(commands));
    expect(window, 'relay counters at the copy steps').toBeDefined();
    // Every command sg_xcopy counted crossed the wire as an EXTENDED COPY; no block was written otherwise.
    expect(window![XCOPY_OPCODE]).toBe(commands);
    // RECEIVE COPY RESULTS (OPERATING PARAMETERS) once for the source and once for the destination, per run.
    expect(window![RECEIVE_COPY_RESULTS_OPCODE]).toBe(2 * COPIES.length);
    expect(Object.keys(window!).filter((op) => WRITE_OPCODES.includes(op))).toEqual([]);
    // COPY STATUS of the last command: one segment of 1500 - 5 * 256 blocks of 4096 bytes.
    expect(r.metrics.get('status_segments')).toBe('1');
    expect(r.metrics.get('status_bytes')).toBe(String((1500 - 5 * 256) * 4096));

    // The backing files byte for byte: sources untouched, destinations zero except the copied ranges.
    await t.stop();
    const expected = initial.map((b) => Buffer.from(b));
    for (const c of COPIES) {
      const size = BLOCK[c.from];
      initial[c.from]!.copy(expected[c.to]!, c.seek * size, c.skip * size, (c.skip + c.blocks) * size);
    }
    for (const lun of [0, 1, 2, 3]) {
      expect(readFileSync(t.lunPath(`lun${lun}.img`)).equals(expected[lun]!), `lun${lun}.img`).toBe(true);
    }
  });
});
