/**
 * Scenario 7: online resize and LUN add under the Linux initiator. The guest logs in to one
 * 64 MiB LUN and writes its last MiB; the host grows the LUN to 96 MiB and adds a 32 MiB LUN 1
 * in the config and sends SIGHUP. The kernel must be told through unit attentions (CAPACITY DATA
 * HAS CHANGED, REPORTED LUNS DATA HAS CHANGED), a sysfs rescan must see the new size with the old
 * data intact and zeros after it, and a session rescan must find LUN 1. The host checks both
 * backing files byte for byte afterwards.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { INITIATOR_IQN, TARGET_IQN, expectClean, pattern, theVm, timings } from './harness.js';
import { TargetProcess, type LogEntry } from './target-proc.js';
import { runVm } from './vm/run-vm.js';

const MiB = 1024 * 1024;
const OLD_BYTES = 64 * MiB;
const NEW_BYTES = 96 * MiB;
const LUN1_BYTES = 32 * MiB;

function config(t: TargetProcess, luns: { lun: number; size: number }[]): Record<string, unknown> {
  return {
    iscsi: { nopInInterval: 5, nopInTimeout: 5 },
    memory: { poolPages: 64, pageSize: 65536 },
    targets: [
      {
        iqn: TARGET_IQN,
        luns: luns.map(({ lun, size }) => ({ lun, backstore: { type: 'file', path: t.lunPath(`lun${lun}.img`), size } })),
      },
    ],
  };
}

/**
 * The kernel's unit attention lines (scsi_report_sense) the scenario expects, each exactly this
 * often, and the rescan's new size (512-byte sectors).
 */
const KERNEL_LINES = [
  // LUN 0 at login (the new I_T nexus) and LUN 1 on its first command after the session rescan.
  { re: /sd \d+:0:0:0: Power-on or device reset occurred/, count: 1 },
  { re: /sd \d+:0:0:1: Power-on or device reset occurred/, count: 1 },
  // Both on LUN 0: the LUN inventory changed (3Fh/0Eh), then its capacity (2Ah/09h).
  { re: /sd \d+:0:0:0: LUN assignments on this target have changed/, count: 1 },
  { re: /sd \d+:0:0:0: Capacity data has changed/, count: 1 },
  { re: new RegExp(`detected capacity change from ${OLD_BYTES / 512} to ${NEW_BYTES / 512}$`), count: 1 },
];

describe('online resize and LUN add (SIGHUP) seen by open-iscsi in a VM', () => {
  let target: TargetProcess | undefined;
  afterEach(async () => {
    await target?.dispose();
    target = undefined;
  });

  it('tells the kernel through unit attentions; a rescan sees the new size and the new LUN', async () => {
    const vm = theVm();
    const t = (target = new TargetProcess((self) => config(self, [{ lun: 0, size: OLD_BYTES }])));
    await t.start();
    // Part 0: LUN 0's old last MiB; part 1: its new last MiB; part 2: LUN 1's middle.
    const pat = pattern(3);
    let reload: Promise<LogEntry> | undefined;
    const r = await runVm(vm, {
      scenario: 'resize',
      env: { IQN: TARGET_IQN, INITIATOR: INITIATOR_IQN, TARGET_PORT: t.port, OLD_BYTES, NEW_BYTES, LUN1_BYTES },
      pattern: pat,
      portFile: t.portFile,
      relayPidDir: t.relayPidDir,
      timeoutMs: 170_000,
      onLine: (line) => {
        if (!line.startsWith('E2E-STEP written')) return;
        reload = t.reload((self) =>
          config(self, [
            { lun: 0, size: NEW_BYTES },
            { lun: 1, size: LUN1_BYTES },
          ]),
        );
      },
    });
    console.log(`resize: ${timings(r)}`);
    if (process.env.E2E_VERBOSE) console.log(`${r.console}\n${t.rawLog.join('\n')}`);
    expect(reload, 'the guest never reached the reload step').toBeDefined();
    expect(await reload).toMatchObject({ applied: 2, warnings: [], needsRestart: [] });
    expectClean(r, t);

    // The kernel was told (and printed each unit attention once), but kept the old size until the rescan.
    const told = r.dmesg.filter((l) => /has changed|have changed|reset occurred|capacity change/.test(l));
    for (const { re, count } of KERNEL_LINES) expect(told.filter((l) => re.test(l)), told.join('\n')).toHaveLength(count);
    expect(told).toHaveLength(KERNEL_LINES.reduce((n, u) => n + u.count, 0));
    expect(r.metrics.get('size_before_rescan')).toBe(String(OLD_BYTES));
    expect(r.metrics.get('size_after_rescan')).toBe(String(NEW_BYTES));
    expect(r.metrics.get('lun1_bytes')).toBe(String(LUN1_BYTES));

    // The backing files: LUN 0 grown sparse with both writes, LUN 1 with its write, zeros elsewhere.
    await t.stop();
    const part = (n: number): Buffer => pat.subarray(n * MiB, (n + 1) * MiB);
    const lun0 = Buffer.alloc(NEW_BYTES);
    part(0).copy(lun0, OLD_BYTES - MiB);
    part(1).copy(lun0, NEW_BYTES - MiB);
    const lun1 = Buffer.alloc(LUN1_BYTES);
    part(2).copy(lun1, LUN1_BYTES / 2);
    const st = statSync(t.lunPath('lun0.img'));
    expect(st.size).toBe(NEW_BYTES);
    // Sparse: only the two written MiB (and filesystem slack) are allocated, not the 32 MiB grown.
    expect(st.blocks * 512).toBeLessThan(8 * MiB);
    expect(readFileSync(t.lunPath('lun0.img')).equals(lun0), 'lun0.img').toBe(true);
    expect(statSync(t.lunPath('lun1.img')).size).toBe(LUN1_BYTES);
    expect(readFileSync(t.lunPath('lun1.img')).equals(lun1), 'lun1.img').toBe(true);
  });
});
