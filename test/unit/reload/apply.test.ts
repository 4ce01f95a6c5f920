import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { applyReload, type LunControl } from '../../../src/reload/apply.js';
import { planReload } from '../../../src/reload/plan.js';

const IQN = 'iqn.2026-11.io.scatter:a';
const log = pino({ level: 'silent' });

function config(luns: Record<string, unknown>[]): Config {
  return validateConfig({ targets: [{ iqn: IQN, luns }] }, 'test');
}
const nul = (lun: number, size: string) => ({ lun, backstore: { type: 'null', size } });

/** Records the calls; the LUNs in `failing` reject. */
function fakeLuns(failing: number[] = []): LunControl & { calls: string[] } {
  const calls: string[] = [];
  const maybeFail = async (lun: number): Promise<void> => {
    if (failing.includes(lun)) throw new Error(`LUN ${lun} failed`);
  };
  return {
    calls,
    add: async (target, lun) => {
      calls.push(`add ${target.iqn} ${lun.lun}`);
      await maybeFail(lun.lun);
    },
    remove: async (iqn, lun) => {
      calls.push(`remove ${iqn} ${lun}`);
      await maybeFail(lun);
    },
    resize: async (iqn, lun, to) => {
      calls.push(`resize ${iqn} ${lun} ${to.size}`);
      await maybeFail(lun);
      return { oldSize: 0, newSize: to.size ?? 0 };
    },
    reopen: async (target, lun) => {
      calls.push(`reopen ${target.iqn} ${lun.lun}`);
      await maybeFail(lun.lun);
    },
    recover: async (iqn, lun) => {
      calls.push(`recover ${iqn} ${lun}`);
      await maybeFail(lun);
    },
  };
}

describe('applyReload', () => {
  it('runs removals, additions and resizes in order; the config in effect is the new one', async () => {
    const running = config([nul(0, '1GiB'), nul(1, '1GiB')]);
    const next = config([nul(0, '2GiB'), nul(2, '1GiB')]);
    const luns = fakeLuns();
    const out = await applyReload(planReload(running, next), running, luns, log);
    expect(luns.calls).toEqual([`remove ${IQN} 1`, `add ${IQN} 2`, `resize ${IQN} 0 ${2 * 1024 ** 3}`]);
    expect(out).toMatchObject({ applied: 3, failed: 0 });
    expect(out.config).toEqual(next);
    expect(planReload(out.config, next).steps).toEqual([]);
  });

  it('a failed step leaves that LUN as it was, the others still apply, and the next reload tries again', async () => {
    const running = config([nul(0, '1GiB'), nul(1, '1GiB')]);
    const next = config([nul(0, '2GiB'), nul(2, '1GiB')]);
    const luns = fakeLuns([2, 0]);
    const out = await applyReload(planReload(running, next), running, luns, log);
    expect(out).toMatchObject({ applied: 1, failed: 2 });
    expect(out.config.targets[0]!.luns.map((l) => [l.lun, 'size' in l.backstore ? l.backstore.size : 0])).toEqual([[0, 1024 ** 3]]);
    const again = planReload(out.config, next).steps.map((s) => s.kind);
    expect(again).toEqual(['add', 'resize']);
  });

  it('what needs a restart is not applied: the config in effect keeps the running value', async () => {
    const running = config([nul(0, '1GiB')]);
    const next = validateConfig({ memory: { poolPages: 8 }, targets: [{ iqn: IQN, alias: 'x', luns: [nul(0, '1GiB')] }] }, 'test');
    const out = await applyReload(planReload(running, next), running, fakeLuns(), log);
    expect(out.config).toEqual(running);
    expect(planReload(out.config, next).needsRestart).toEqual(['memory.poolPages changed', `target ${IQN} alias changed`]);
  });
});
