import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { changedPaths, planReload, type FaultLookup } from '../../../src/reload/plan.js';
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

describe('planReload with LUNs not serving', () => {
  it('an offline LUN is opened again with its new config, whatever changed in it (nothing needs a restart)', () => {
    const running = config([file(0, '1GiB'), file(1, '1GiB')]);
    const next = config([file(0, '1GiB', { path: '/srv/restored.img', create: 'always' }), file(1, '1GiB')]);
    const plan = planReload(running, next, faulted(0, 'offline'));
    expect(plan.steps).toEqual([{ kind: 'reopen', target: next.targets[0], lun: next.targets[0]!.luns[0] }]);
    expect(plan.needsRestart).toEqual([]);
    // Served normally, the same change would need a restart.
    expect(planReload(running, next).needsRestart).toEqual([`target ${IQN} LUN 0 backstore.path changed`]);
  });

  it("a failed write-back is acknowledged; the LUN's other changes are planned as usual", () => {
    const plan = planReload(config([file(0, '1GiB')]), config([file(0, '2GiB')]), faulted(0, 'writeback_failed'));
    expect(plan.steps).toEqual([
      { kind: 'recover', iqn: IQN, lun: 0 },
      { kind: 'resize', iqn: IQN, lun: 0, size: 2 * 1024 ** 3 },
    ]);
  });

  it('create only matters when a file is opened: changing it on a serving LUN needs no restart', () => {
    expect(planReload(config([file(0, '1GiB')]), config([file(0, '1GiB', { create: 'always' })]))).toEqual({ steps: [], needsRestart: [], refused: [] });
  });
});

describe('planReload', () => {
  it('an unchanged config plans nothing', () => {
    const c = config([file(0, '1GiB'), nul(1, '1GiB')]);
    expect(planReload(c, config([file(0, '1GiB'), nul(1, '1GiB')]))).toEqual({ steps: [], needsRestart: [], refused: [] });
  });

  it('LUNs added and removed, removals first', () => {
    const plan = planReload(config([file(0, '1GiB'), nul(1, '1GiB')]), config([file(0, '1GiB'), nul(2, '2GiB')]));
    expect(plan.steps.map((s) => (s.kind === 'add' || s.kind === 'reopen' ? [s.kind, s.target.iqn, s.lun.lun] : [s.kind, s.iqn, s.lun]))).toEqual([
      ['remove', IQN, 1],
      ['add', IQN, 2],
    ]);
    expect(plan.needsRestart).toEqual([]);
  });

  it('a grown file or null LUN is resized to the new size; a shrink is refused', () => {
    const plan = planReload(config([file(0, '1GiB'), nul(1, '1GiB')]), config([file(0, '2GiB'), nul(1, '512MiB')]));
    expect(plan.steps).toEqual([{ kind: 'resize', iqn: IQN, lun: 0, size: 2 * 1024 ** 3 }]);
    expect(plan.refused).toEqual([`target ${IQN} LUN 1 shrink from ${1024 ** 3} to ${512 * 1024 ** 2} bytes refused: it would lose the data past the new end`]);
  });

  it('every block LUN has its size re-read', () => {
    const c = config([block(0), file(1, '1GiB')]);
    expect(planReload(c, c).steps).toEqual([{ kind: 'resize', iqn: IQN, lun: 0, size: undefined }]);
  });

  it('a changed backstore path or type, or other LUN keys, need a restart and are not resized', () => {
    const plan = planReload(
      config([file(0, '1GiB'), file(1, '1GiB'), nul(2, '1GiB')]),
      config([file(0, '2GiB', { path: '/tmp/elsewhere.img' }), { ...file(1, '1GiB'), readOnly: true }, block(2)]),
    );
    expect(plan.steps).toEqual([]);
    expect(plan.needsRestart.filter((l) => !l.includes('LUN 2'))).toEqual([
      `target ${IQN} LUN 0 backstore.path changed`,
      `target ${IQN} LUN 1 readOnly changed`,
    ]);
    // A new type brings other keys with it: each differing one is named.
    expect(plan.needsRestart).toEqual(
      expect.arrayContaining([`target ${IQN} LUN 2 backstore.type changed`, `target ${IQN} LUN 2 backstore.path changed`]),
    );
  });

  it('portals, memory, auth, alias and targets added or removed need a restart', () => {
    const before = config([file(0, '1GiB')]);
    const after = validateConfig(
      {
        iscsi: { portals: [{ host: '0.0.0.0', port: 3260 }] },
        memory: { poolPages: 8 },
        targets: [
          { iqn: IQN, alias: 'renamed', auth: { method: 'chap', user: 'u', secret: 'a-secret-of-12+-bytes' }, luns: [file(0, '1GiB')] },
          { iqn: OTHER, luns: [] },
        ],
      },
      'test',
    );
    const plan = planReload(before, after);
    expect(plan.steps).toEqual([]);
    expect(plan.needsRestart).toEqual(
      expect.arrayContaining([
        'iscsi.portals changed',
        'memory.poolPages changed',
        `target ${OTHER} added`,
        `target ${IQN} alias changed`,
        `target ${IQN} auth.method changed`,
      ]),
    );
    // Secrets never end up in a message.
    expect(plan.needsRestart.join('\n')).not.toContain('a-secret');
    expect(planReload(after, before).needsRestart).toContain(`target ${OTHER} removed`);
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
