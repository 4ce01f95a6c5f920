import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { changedPaths, describeStep, inEffect, planChange, type FaultLookup, type PlanStep } from '../../../src/control/plan.js';
import type { LunFault } from '../../../src/runtime/lun-registry.js';

const IQN = 'iqn.2026-11.io.scatter:a';
const OTHER = 'iqn.2026-11.io.scatter:b';

type Raw = Record<string, unknown>;

function config(luns: Raw[], over: Raw = {}, target: Raw = {}): Config {
  return validateConfig({ targets: [{ iqn: IQN, luns, ...target }], ...over }, 'test');
}

const file = (lun: number, size: string, extra: Raw = {}): Raw => ({
  lun,
  backstore: { type: 'file', path: `/tmp/scatter-plan-${lun}.img`, size, ...extra },
});
const block = (lun: number, path = '/dev/loop7'): Raw => ({ lun, backstore: { type: 'block', path } });
const nul = (lun: number, size: string): Raw => ({ lun, backstore: { type: 'null', size } });

/** LUN `lun` of IQN has `fault`; every other LUN serves. */
const faulted =
  (lun: number, fault: LunFault): FaultLookup =>
  (iqn, l) =>
    iqn === IQN && l === lun ? fault : undefined;

const kinds = (steps: readonly PlanStep[]) => steps.map((s) => describeStep(s));

describe('planChange, re-applying a config with LUNs not serving', () => {
  it('an offline LUN is opened again with its new config, whatever changed in it', () => {
    const running = config([file(0, '1GiB'), file(1, '1GiB')]);
    const next = config([file(0, '1GiB', { path: '/srv/restored.img', create: 'always' }), file(1, '1GiB')]);
    const plan = planChange(running, next, { reapply: faulted(0, 'offline') });
    expect(plan.steps).toEqual([{ kind: 'reopenLun', target: next.targets[0], lun: next.targets[0]!.luns[0] }]);
    // Served normally, the same change replaces the LU live.
    expect(kinds(planChange(running, next).steps)).toEqual([`replace ${IQN} LUN 0: backstore.path`]);
  });

  it("a failed write-back is acknowledged; the LUN's other changes are planned as usual", () => {
    const plan = planChange(config([file(0, '1GiB')]), config([file(0, '2GiB')]), { reapply: faulted(0, 'writeback_failed') });
    expect(plan.steps).toEqual([
      { kind: 'recoverLun', iqn: IQN, lun: 0 },
      { kind: 'resizeLun', iqn: IQN, lun: 0, size: 2 * 1024 ** 3 },
    ]);
  });

  it('a resource edit does not retry faulted LUNs or re-read block devices: the same edit twice plans nothing', () => {
    const c = config([block(0), file(1, '1GiB')]);
    expect(planChange(c, c).steps).toEqual([]);
    expect(planChange(c, c, { reapply: () => undefined }).steps).toEqual([{ kind: 'resizeLun', iqn: IQN, lun: 0, size: undefined }]);
  });

  it('create only matters when a file is opened: changing it on a serving LUN plans nothing', () => {
    expect(planChange(config([file(0, '1GiB')]), config([file(0, '1GiB', { create: 'always' })]))).toEqual({ steps: [], needsRestart: [], refused: [] });
  });
});

describe('planChange', () => {
  it('an unchanged config plans nothing', () => {
    const c = config([file(0, '1GiB'), nul(1, '1GiB')]);
    expect(planChange(c, config([file(0, '1GiB'), nul(1, '1GiB')]))).toEqual({ steps: [], needsRestart: [], refused: [] });
  });

  it('LUNs added first, removed after, resized last', () => {
    const plan = planChange(config([file(0, '1GiB'), nul(1, '1GiB')]), config([file(0, '2GiB'), nul(2, '2GiB')]));
    expect(plan.steps.map((s) => s.kind)).toEqual(['addLun', 'removeLun', 'resizeLun']);
    expect(plan.needsRestart).toEqual([]);
  });

  it('a grown file or null LUN is resized to the new size; a shrink is refused', () => {
    const plan = planChange(config([file(0, '1GiB'), nul(1, '1GiB')]), config([file(0, '2GiB'), nul(1, '512MiB')]));
    expect(plan.steps).toEqual([{ kind: 'resizeLun', iqn: IQN, lun: 0, size: 2 * 1024 ** 3 }]);
    expect(plan.refused).toEqual([`target ${IQN} LUN 1: shrink from ${1024 ** 3} to ${512 * 1024 ** 2} bytes refused: it would lose the data past the new end`]);
  });

  it('a changed backstore (path, type) or LU setting replaces the LU live, without a resize', () => {
    const plan = planChange(
      config([file(0, '1GiB'), file(1, '1GiB'), nul(2, '1GiB')]),
      config([file(0, '2GiB', { path: '/tmp/elsewhere.img' }), { ...file(1, '1GiB'), readOnly: true }, block(2)]),
    );
    expect(plan.steps.map((s) => s.kind)).toEqual(['replaceLun', 'replaceLun', 'replaceLun']);
    expect(kinds(plan.steps)[1]).toBe(`replace ${IQN} LUN 1: readOnly`);
    expect(plan.needsRestart).toEqual([]);
  });

  it('a LUN moving from an inline to a named backstore with the same settings plans nothing', () => {
    const inline = config([nul(0, '1GiB')]);
    const named = validateConfig({ backstores: [{ name: 'zero', type: 'null', size: '1GiB' }], targets: [{ iqn: IQN, luns: [{ lun: 0, backstore: 'zero' }] }] }, 'test');
    expect(planChange(inline, named).steps).toEqual([]);
  });

  it('portals, targets, alias, auth, discovery auth and negotiation apply live; memory and the admin listener need a restart', () => {
    const before = config([file(0, '1GiB')]);
    const after = validateConfig(
      {
        iscsi: { portals: [{ host: '0.0.0.0', port: 3260 }], maxBurstLength: '512KiB', firstBurstLength: '64KiB', maxCmdWindow: 64 },
        memory: { poolPages: 8 },
        discoveryAuth: { method: 'chap', user: 'd', secret: 'discovery-secret-1' },
        targets: [
          { iqn: IQN, alias: 'renamed', auth: { method: 'chap', user: 'u', secret: 'a-secret-of-12+-bytes' }, luns: [file(0, '1GiB')] },
          { iqn: OTHER, luns: [] },
        ],
      },
      'test',
    );
    const plan = planChange(before, after);
    expect(plan.steps.map((s) => s.kind)).toEqual(['removePortal', 'addPortal', 'setNegotiation', 'setDiscoveryAuth', 'addTarget', 'updateTarget']);
    expect(kinds(plan.steps)).toContain(`change target ${IQN}: auth.method, auth.user, auth.secret, auth.algorithms, alias`);
    expect(plan.needsRestart).toEqual(['memory.poolPages changed', 'iscsi.maxCmdWindow changed']);
    // Secrets never end up in a message.
    expect([...kinds(plan.steps), ...plan.needsRestart].join('\n')).not.toContain('a-secret');
    expect(planChange(after, before).steps.map((s) => s.kind)).toContain('removeTarget');
  });

  it('the config in effect takes everything live from the new config and keeps what waits for a restart', () => {
    const before = config([nul(0, '1GiB')]);
    const after = validateConfig({ memory: { poolPages: 8 }, iscsi: { maxBurstLength: '512KiB', firstBurstLength: '64KiB' }, targets: [{ iqn: IQN, alias: 'x', luns: [nul(0, '1GiB')] }] }, 'test');
    const effective = inEffect(before, after);
    expect(effective.memory).toEqual(before.memory);
    expect(effective.iscsi.maxBurstLength).toBe(512 * 1024);
    expect(effective.targets).toEqual(after.targets);
    expect(planChange(effective, after)).toEqual({ steps: [], needsRestart: ['memory.poolPages changed'], refused: [] });
  });
});

describe('changedPaths', () => {
  it('names the leaves that differ and compares arrays whole', () => {
    expect(changedPaths({ a: 1, b: { c: 2, d: [1, 2] } }, { a: 1, b: { c: 3, d: [1, 2], e: true } }, 'x ')).toEqual([
      'x b.c',
      'x b.e',
    ]);
    expect(changedPaths({ d: [1, 2] }, { d: [2, 1] }, '')).toEqual(['d']);
  });
});
