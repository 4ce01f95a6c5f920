import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { ApplyError, applyPlan, type LiveRuntime } from '../../../src/control/apply.js';
import { planChange } from '../../../src/control/plan.js';

const IQN = 'iqn.2026-11.io.scatter:a';
const OTHER = 'iqn.2026-11.io.scatter:b';
const log = pino({ level: 'silent' });

function config(luns: Record<string, unknown>[], extra: Record<string, unknown> = {}): Config {
  return validateConfig({ targets: [{ iqn: IQN, luns }], ...extra }, 'test');
}
const nul = (lun: number, size: string) => ({ lun, backstore: { type: 'null', size } });

/** Records every call; a call whose description is in `failing` rejects. */
function fakeRuntime(failing: string[] = []): LiveRuntime & { calls: string[] } {
  const calls: string[] = [];
  const call = async (what: string): Promise<void> => {
    calls.push(what);
    if (failing.includes(what)) throw new Error(`${what} failed`);
  };
  return {
    calls,
    logoutGraceMs: 0,
    luns: {
      add: (target, lun) => call(`add ${target.iqn} ${lun.lun}`),
      remove: (iqn, lun) => call(`remove ${iqn} ${lun}`),
      resize: (iqn, lun, to) => call(`resize ${iqn} ${lun} ${to.size}`),
      reopen: (target, lun) => call(`reopen ${target.iqn} ${lun.lun}`),
      recover: (iqn, lun) => call(`recover ${iqn} ${lun}`),
    },
    targets: {
      add: (target) => call(`add target ${target.iqn}`),
      remove: (iqn) => call(`remove target ${iqn}`),
      update: async (target) => void calls.push(`update target ${target.iqn} alias=${target.alias}`),
    },
    settings: {
      addPortal: (p) => call(`add portal ${p.host}:${p.port}`),
      removePortal: (p) => call(`remove portal ${p.host}:${p.port}`),
      setNegotiation: (iscsi) => void calls.push(`negotiation maxBurst=${iscsi.maxBurstLength}`),
      setDiscoveryAuth: (auth) => void calls.push(`discovery ${auth.method}`),
    },
  };
}

describe('applyPlan', () => {
  it('applies every step in the plan order', async () => {
    const running = config([nul(0, '1GiB'), nul(1, '1GiB')]);
    const next = config([nul(0, '2GiB'), nul(2, '1GiB')]);
    const rt = fakeRuntime();
    const applied = await applyPlan(planChange(running, next), rt, log);
    expect(rt.calls).toEqual([`add ${IQN} 2`, `remove ${IQN} 1`, `resize ${IQN} 0 ${2 * 1024 ** 3}`]);
    expect(applied.done).toHaveLength(3);
  });

  it('a failed step undoes what was applied before it, in reverse order, and names the step', async () => {
    const running = config([nul(0, '1GiB')]);
    const next = validateConfig(
      {
        iscsi: { portals: [{ host: '127.0.0.1', port: 3261 }] },
        targets: [{ iqn: IQN, alias: 'new', luns: [nul(0, '1GiB'), nul(1, '1GiB')] }, { iqn: OTHER }],
      },
      'test',
    );
    const rt = fakeRuntime([`add ${IQN} 1`]);
    const failure = await applyPlan(planChange(running, next), rt, log).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplyError);
    expect(failure).toMatchObject({ code: 'CONFIG_APPLY', step: `add ${IQN} LUN 1 (null)`, reason: `add ${IQN} 1 failed`, undoFailures: [] });
    expect(rt.calls).toEqual([
      'remove portal 127.0.0.1:3260',
      'add portal 127.0.0.1:3261',
      `add target ${OTHER}`,
      `update target ${IQN} alias=new`,
      `add ${IQN} 1`,
      // undone, last first
      `update target ${IQN} alias=undefined`,
      `remove target ${OTHER}`,
      'remove portal 127.0.0.1:3261',
      'add portal 127.0.0.1:3260',
    ]);
  });

  it('a replaced LU whose new storage cannot be opened is put back as it was', async () => {
    const running = config([nul(0, '1GiB')]);
    const next = config([{ ...nul(0, '1GiB'), readOnly: true }]);
    let adds = 0;
    const rt = fakeRuntime();
    const add = rt.luns.add;
    rt.luns.add = async (target, lun) => {
      if (adds++ === 0) throw new Error('cannot open');
      await add(target, lun);
    };
    await expect(applyPlan(planChange(running, next), rt, log)).rejects.toThrow(/cannot open/);
    expect(rt.calls).toEqual([`remove ${IQN} 0`, `add ${IQN} 0`]);
  });

  it('an LU that is still offline is a warning; the rest applies', async () => {
    const running = config([nul(0, '1GiB')]);
    const next = config([nul(0, '1GiB')], { discoveryAuth: { method: 'chap', user: 'u', secret: 'twelve-bytes-at-least' } });
    const rt = fakeRuntime([`reopen ${IQN} 0`]);
    const applied = await applyPlan(planChange(running, next, { reapply: () => 'offline' }), rt, log);
    expect(rt.calls).toEqual(['discovery chap', `reopen ${IQN} 0`]);
    expect(applied.warnings).toEqual([`open ${IQN} LUN 0 again: reopen ${IQN} 0 failed`]);
  });

  it('rollback() undoes a change that was applied (its persisting failed)', async () => {
    const running = config([nul(0, '1GiB')]);
    const next = config([nul(0, '1GiB'), nul(1, '1GiB')]);
    const rt = fakeRuntime();
    const applied = await applyPlan(planChange(running, next), rt, log);
    expect(await applied.rollback()).toEqual([]);
    expect(rt.calls).toEqual([`add ${IQN} 1`, `remove ${IQN} 1`]);
  });
});
