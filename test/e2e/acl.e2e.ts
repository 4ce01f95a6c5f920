/**
 * Scenario: ACLs and LUN masking under the Linux initiator. The target has two LUNs; the guest's
 * initiator name is in the ACL with only LUN 1 mapped, as LUN 0. The guest must see exactly one
 * disk, of LUN 1's size, and its writes must land in LUN 1's file. The host then removes the ACL
 * through the admin API (DELETE /v1/targets/{iqn}/acls/{initiator}): the session must end, and
 * open-iscsi's attempts to log in again must be refused as not in the ACL.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/cli-proc.js';
import { INITIATOR_IQN, TARGET_IQN, expectClean, pattern, theVm, timings } from './harness.js';
import { TargetProcess } from './target-proc.js';
import { runVm } from './vm/run-vm.js';

const MiB = 1024 * 1024;
const HIDDEN_BYTES = 64 * MiB;
const MAPPED_BYTES = 32 * MiB;

describe('ACLs seen by open-iscsi in a VM', () => {
  let target: TargetProcess | undefined;
  afterEach(async () => {
    await target?.dispose();
    target = undefined;
  });

  it('the initiator sees only its mapped LUN; removing its ACL through the API ends its session', async () => {
    const vm = theVm();
    const adminPort = await freePort();
    const t = (target = new TargetProcess((self) => ({
      iscsi: { nopInInterval: 5, nopInTimeout: 5 },
      memory: { poolPages: 64, pageSize: 65536 },
      stateDir: join(self.dir, 'state'),
      admin: { enabled: true, host: '127.0.0.1', port: adminPort },
      targets: [
        {
          iqn: TARGET_IQN,
          luns: [
            { lun: 0, backstore: { type: 'file', path: self.lunPath('hidden.img'), size: HIDDEN_BYTES } },
            { lun: 1, backstore: { type: 'file', path: self.lunPath('mapped.img'), size: MAPPED_BYTES } },
          ],
          acls: [{ initiator: INITIATOR_IQN, luns: [{ lun: 1, as: 0 }] }],
        },
      ],
    })));
    await t.start();
    const pat = pattern(4);
    let removal: Promise<number> | undefined;
    const r = await runVm(vm, {
      scenario: 'acl',
      env: { IQN: TARGET_IQN, INITIATOR: INITIATOR_IQN, TARGET_PORT: t.port, MAPPED_BYTES },
      pattern: pat,
      portFile: t.portFile,
      relayPidDir: t.relayPidDir,
      timeoutMs: 150_000,
      onLine: (line) => {
        if (!line.startsWith('E2E-STEP mapped')) return;
        const token = readFileSync(join(t.dir, 'state', 'admin-token'), 'utf8').trim();
        const url = `http://127.0.0.1:${adminPort}/v1/targets/${encodeURIComponent(TARGET_IQN)}/acls/${encodeURIComponent(INITIATOR_IQN)}`;
        removal = fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }).then((res) => res.status);
      },
    });
    console.log(`acl: ${timings(r)}`);
    if (process.env.E2E_VERBOSE) console.log(`${r.console}\n${t.rawLog.join('\n')}`);
    expect(removal, 'the guest never reached the mapped step').toBeDefined();
    expect(await removal).toBe(204);
    // The session ends, so the kernel logs connection errors: those are what this scenario is about.
    expectClean(r, t, [/conn error/, /I\/O error/, /blk_update_request/, /Sense Key/, /FAILED Result/]);
    expect(r.metrics.get('mapped_bytes')).toBe(String(MAPPED_BYTES));
    expect(r.metrics.get('luns')).toBe('1');
    // The guest's writes went to LUN 1's file; LUN 0's stayed untouched.
    expect(readFileSync(t.lunPath('mapped.img')).subarray(0, pat.length).equals(pat)).toBe(true);
    expect(readFileSync(t.lunPath('hidden.img')).subarray(0, pat.length).every((b) => b === 0)).toBe(true);
    expect(t.log.some((e) => e.msg === 'initiator no longer in the ACL; asking it to log out')).toBe(true);
  });
});
