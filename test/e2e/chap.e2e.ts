/**
 * Scenario 2: CHAP with open-iscsi, one-way and mutual, for each algorithm it
 * offers (MD5, SHA1, SHA256, SHA3-256), each against a target that accepts only
 * that one; a wrong initiator secret, a wrong target secret and no common
 * algorithm must each fail to log in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { INITIATOR_IQN, LUN_BYTES, expectClean, pattern, theVm, timings } from './harness.js';
import { TargetProcess } from './target-proc.js';
import { runVm } from './vm/run-vm.js';

const IQN_BASE = 'iqn.2026-11.io.scatter';
const ALGORITHMS: [string, number][] = [['md5', 5], ['sha1', 6], ['sha256', 7], ['sha3-256', 8]];
const CREDS = { user: 'e2e-guest', secret: 'guest-secret-0123', mutualUser: 'e2e-target', mutualSecret: 'target-secret-4567' };

function chapConfig(): Record<string, unknown> {
  const targets = ALGORITHMS.flatMap(([name, number]) => [
    { iqn: `${IQN_BASE}:chap-${name}`, auth: { method: 'chap', user: CREDS.user, secret: CREDS.secret, algorithms: [number] } },
    {
      iqn: `${IQN_BASE}:mutual-${name}`,
      auth: { method: 'chap', ...CREDS, algorithms: [number] },
    },
  ]).map((target) => ({ ...target, luns: [{ lun: 0, backstore: { type: 'null', size: LUN_BYTES } }] }));
  return { iscsi: { nopInInterval: 5, nopInTimeout: 5 }, targets };
}

describe('open-iscsi CHAP in a VM', () => {
  let target: TargetProcess | undefined;
  afterEach(async () => {
    await target?.dispose();
    target = undefined;
  });

  it('logs in with every CHAP algorithm, one-way and mutual, and refuses wrong secrets', async () => {
    const vm = theVm();
    const t = (target = new TargetProcess(() => chapConfig()));
    await t.start();
    const r = await runVm(vm, {
      scenario: 'chap',
      env: {
        IQN_BASE,
        INITIATOR: INITIATOR_IQN,
        CHAP_USER: CREDS.user,
        CHAP_SECRET: CREDS.secret,
        MUTUAL_USER: CREDS.mutualUser,
        MUTUAL_SECRET: CREDS.mutualSecret,
      },
      pattern: pattern(1),
      portFile: t.portFile,
      relayPidDir: t.relayPidDir,
      timeoutMs: 150_000,
    });
    console.log(`chap: ${timings(r)}`);
    // A refused login may end its connection before iscsid stops it: at most one such report per refusal.
    expectClean(r, t, [/detected conn error \(1020\)/]);
    expect(r.dmesg.filter((l) => /conn error/.test(l)).length).toBeLessThanOrEqual(3);
    const logins = t.log.filter((e) => e.msg === 'login complete');
    for (const [name] of ALGORITHMS) {
      for (const kind of ['chap', 'mutual']) {
        expect(logins.filter((e) => e.target === `${IQN_BASE}:${kind}-${name}` && e.auth === 'CHAP'), `${kind}-${name}`).toHaveLength(1);
      }
    }
    expect(logins).toHaveLength(8);
    // The two refusals the target sees (a wrong target secret is caught by the initiator).
    expect(t.log.filter((e) => e.msg === 'login failed').length).toBeGreaterThanOrEqual(2);
  });
});
