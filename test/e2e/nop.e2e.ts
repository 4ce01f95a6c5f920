/**
 * Scenario 5: the guest stays logged in and idle. Once with the target pinging
 * more often than open-iscsi (2 s < 5 s: every NOP-In must be answered with a
 * NOP-Out), once with open-iscsi's 5 s NOP-Outs first (the target answers, and
 * never needs to ping). The session must stay up and I/O work afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { INITIATOR_IQN, LUN_BYTES, TARGET_IQN, baseConfig, expectClean, pattern, theVm, timings } from './harness.js';
import { TargetProcess, counterDelta } from './target-proc.js';
import { runVm } from './vm/run-vm.js';

const IDLE_S = 30;

interface Idle {
  toTarget: Record<string, number>;
  toGuest: Record<string, number>;
  /** The raw counters at both ends, for a failure message. */
  raw: string;
}

async function idleRun(t: TargetProcess): Promise<Idle> {
  const vm = theVm();
  await t.start();
  let atStart = t.relayCounters();
  let idle: Idle | undefined;
  const r = await runVm(vm, {
    scenario: 'idle',
    env: { IQN: TARGET_IQN, INITIATOR: INITIATOR_IQN, LUN_BYTES, TARGET_PORT: t.port, IDLE_S },
    pattern: pattern(1),
    portFile: t.portFile,
    relayPidDir: t.relayPidDir,
    timeoutMs: (IDLE_S + 60) * 1000,
    onLine: (line) => {
      // Relays refresh their counters every 250 ms; idle-start is printed after a settling pause.
      if (line.startsWith('E2E-STEP idle-start')) atStart = t.relayCounters();
      if (line.startsWith('E2E-STEP idle-end')) {
        const now = t.relayCounters();
        idle = {
          toTarget: counterDelta(atStart.pdusToTarget, now.pdusToTarget),
          toGuest: counterDelta(atStart.pdusToGuest, now.pdusToGuest),
          raw: `relays ${JSON.stringify(t.relayPids())}; at idle-start ${JSON.stringify(atStart)}; at idle-end ${JSON.stringify(now)}`,
        };
      }
    },
  });
  console.log(`idle: ${timings(r)} idle-pdus=${JSON.stringify(idle)}`);
  if (process.env.E2E_VERBOSE) console.log(`${r.console}\n${t.rawLog.join('\n')}`);
  expectClean(r, t);
  expect(t.log.filter((e) => e.msg === 'login complete' && e.sessionType === 'Normal')).toHaveLength(1);
  expect(t.log.filter((e) => /NOP-In/.test(String(e.msg)))).toEqual([]);
  expect(idle).toBeDefined();
  return idle!;
}

describe('open-iscsi idle in a VM (NOP keepalive)', () => {
  let target: TargetProcess | undefined;
  afterEach(async () => {
    await target?.dispose();
    target = undefined;
  });

  it('answers every target NOP-In while idle (target pings every 2 s)', async () => {
    target = new TargetProcess((self) => baseConfig(self, { iscsi: { nopInInterval: 2, nopInTimeout: 2 } }));
    const idle = await idleRun(target);
    const pings = idle.toGuest.targetPings ?? 0;
    expect(pings, idle.raw).toBeGreaterThanOrEqual(IDLE_S / 4);
    // Nothing but pings and their answers crossed (one may be in flight at either edge).
    expect(Math.abs((idle.toTarget.pingAnswers ?? 0) - pings)).toBeLessThanOrEqual(1);
    expect(Object.keys(idle.toGuest)).toEqual(['20', 'targetPings']);
    expect(Object.keys(idle.toTarget)).toEqual(['00', 'pingAnswers']);
  });

  it("answers open-iscsi's NOP-Outs while idle (initiator pings every 5 s)", async () => {
    target = new TargetProcess((self) => baseConfig(self, { iscsi: { nopInInterval: 15, nopInTimeout: 5 } }));
    const idle = await idleRun(target);
    const pings = idle.toTarget.initiatorPings ?? 0;
    expect(pings, idle.raw).toBeGreaterThanOrEqual(IDLE_S / 5 - 2);
    expect(Math.abs((idle.toGuest['20'] ?? 0) - pings)).toBeLessThanOrEqual(1);
    expect(idle.toGuest.targetPings).toBeUndefined();
  });
});
