/**
 * Scenario 4: the connection is cut under open-iscsi while it writes (the guest's
 * side only, silently, like a pulled cable: the target still holds the old
 * connection and session; the initiator notices by its NOP timeout). The
 * initiator logs in again with TSIH 0 and the same ISID; the target must
 * replace the old session, and every write must land.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { INITIATOR_IQN, LUN_BYTES, TARGET_IQN, baseConfig, expectClean, pattern, theVm, timings } from './harness.js';
import { TargetProcess } from './target-proc.js';
import { runVm } from './vm/run-vm.js';

describe('open-iscsi session reinstatement in a VM', () => {
  let target: TargetProcess | undefined;
  afterEach(async () => {
    await target?.dispose();
    target = undefined;
  });

  it('replaces the old session when the initiator logs in again after a cut, and I/O continues', async () => {
    const vm = theVm();
    const t = (target = new TargetProcess((self) => baseConfig(self)));
    await t.start();
    let cut: number[] = [];
    const r = await runVm(vm, {
      scenario: 'reinstate',
      env: { IQN: TARGET_IQN, INITIATOR: INITIATOR_IQN, LUN_BYTES, TARGET_PORT: t.port, SLOTS: 8 },
      pattern: pattern(4),
      portFile: t.portFile,
      relayPidDir: t.relayPidDir,
      timeoutMs: 150_000,
      onLine: (line) => {
        if (!line.startsWith('E2E-STEP writing')) return;
        setTimeout(() => {
          cut = t.relayPids();
          for (const pid of cut) process.kill(pid, 'SIGUSR1');
        }, 400);
      },
    });
    console.log(`reinstate: ${timings(r)}`);
    if (process.env.E2E_VERBOSE) console.log(`${r.console}\n${t.rawLog.join('\n')}`);
    expect(cut).toHaveLength(1);
    // The cut is silent (no FIN: the relay's other stdio descriptors keep the guest's socket open),
    // so the guest notices it by its NOP-Out timeout (1022): that, once, and no I/O error.
    expectClean(r, t, [/connection1:0: detected conn error \(1022\)/]);
    expect(r.dmesg.filter((l) => /conn error/.test(l))).toHaveLength(1);
    const logins = t.log.filter((e) => e.msg === 'login complete' && e.sessionType === 'Normal');
    expect(logins).toHaveLength(2);
    const reinstated = t.log.filter((e) => e.msg === 'session closed' && e.reason === 'session reinstated');
    expect(reinstated, t.rawLog.join('\n')).toHaveLength(1);
    expect(reinstated[0]!.tsih).toBe(logins[0]!.tsih);
  });
});
