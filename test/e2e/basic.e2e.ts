/**
 * Scenario 1: open-iscsi in a VM discovers the target, logs in with CRC32C
 * header and data digests, writes a host-made pattern to the first and last
 * blocks and reads it back byte-exact with O_DIRECT, makes and checks an ext4
 * filesystem, logs out, and the session and disk vanish.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { INITIATOR_IQN, LUN_BYTES, TARGET_IQN, baseConfig, expectClean, pattern, theVm, timings } from './harness.js';
import { TargetProcess } from './target-proc.js';
import { runVm } from './vm/run-vm.js';

describe('open-iscsi (kernel initiator) in a VM', () => {
  let target: TargetProcess | undefined;
  afterEach(async () => {
    await target?.dispose();
    target = undefined;
  });

  it('discovers, logs in with digests, reads back a pattern, runs ext4 and logs out', async () => {
    const vm = theVm();
    const t = (target = new TargetProcess((self) => baseConfig(self)));
    await t.start();
    const pat = pattern(4);
    const r = await runVm(vm, {
      scenario: 'basic',
      env: { IQN: TARGET_IQN, INITIATOR: INITIATOR_IQN, LUN_BYTES, TARGET_PORT: t.port },
      pattern: pat,
      portFile: t.portFile,
      relayPidDir: t.relayPidDir,
      timeoutMs: 120_000,
    });
    console.log(`basic: ${timings(r)}`);
    expectClean(r, t);
    expect(r.metrics.get('readback_md5')).toBe(createHash('md5').update(pat).digest('hex'));
    expect(t.log.some((e) => /logout/i.test(String(e.msg)))).toBe(true);
  });
});
