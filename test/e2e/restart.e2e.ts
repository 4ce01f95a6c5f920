/**
 * Scenario 3: while open-iscsi writes files, Scatter is stopped (SIGTERM: it asks
 * the initiator to log out, then exits) and started again on the same port and
 * backing file. open-iscsi must reconnect within its replacement timeout, the
 * writes complete, the files match and fsck is clean.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { INITIATOR_IQN, LUN_BYTES, TARGET_IQN, baseConfig, expectClean, pattern, theVm, timings } from './harness.js';
import { TargetProcess } from './target-proc.js';
import { runVm } from './vm/run-vm.js';

describe('open-iscsi across a target restart in a VM', () => {
  let target: TargetProcess | undefined;
  afterEach(async () => {
    await target?.dispose();
    target = undefined;
  });

  it('reconnects after SIGTERM and restart; the files written across it match and fsck is clean', async () => {
    const vm = theVm();
    const t = (target = new TargetProcess((self) => baseConfig(self)));
    await t.start();
    let restart: Promise<number | null> | undefined;
    let restarted = false;
    let restartedBeforeWritten = false;
    const r = await runVm(vm, {
      scenario: 'restart',
      env: { IQN: TARGET_IQN, INITIATOR: INITIATOR_IQN, LUN_BYTES, TARGET_PORT: t.port, FILES: 8 },
      pattern: pattern(4),
      portFile: t.portFile,
      relayPidDir: t.relayPidDir,
      timeoutMs: 170_000,
      onLine: (line) => {
        if (line.startsWith('E2E-STEP written')) restartedBeforeWritten = restarted;
        if (!line.startsWith('E2E-STEP writing')) return;
        restart = new Promise((resolve) => setTimeout(resolve, 400)).then(async () => {
          const code = await t.stop();
          await t.start();
          restarted = true;
          return code;
        });
      },
    });
    console.log(`restart: ${timings(r)}`);
    expect(restart).toBeDefined();
    expect(await restart).toBe(0);
    // The restart happened under the writes, not after them.
    expect(restartedBeforeWritten).toBe(true);
    if (process.env.E2E_VERBOSE) console.log(t.rawLog.join('\n'));
    expectClean(r, t, [/detected conn error/]);
    const serving = t.log.flatMap((e, i) => (e.msg === 'scatter is serving' ? [i] : []));
    expect(serving).toHaveLength(2);
    // open-iscsi answered the shutdown's Async Message (logout requested) before the old process exited.
    const logout = t.log.findIndex((e) => e.msg === 'logout');
    expect(logout).toBeGreaterThan(serving[0]!);
    expect(logout).toBeLessThan(serving[1]!);
    const logins = t.log.filter((e) => e.msg === 'login complete' && e.sessionType === 'Normal');
    expect(logins.length).toBeGreaterThanOrEqual(2);
  });
});
