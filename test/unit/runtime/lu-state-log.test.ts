/**
 * LuHealthLog: each backstore error still reaches the rate-limited error log, and the state change
 * it causes (offline, failed write-back, shrunk) is logged once as lu_state, after DeviceHealth acted.
 */
import { describe, expect, it } from 'vitest';
import { BackstoreError } from '../../../src/block/backstore-error.js';
import { DeviceHealth, type FaultReport } from '../../../src/block/health.js';
import { LuHealthLog } from '../../../src/runtime/lu-state-log.js';
import { capturingLogger } from '../../helpers/target.js';

const WHERE = { target: 'iqn.2026-11.io.scatter:t', lun: 3, path: '/srv/lun3.img' };

function watched(size = 4096): { health: DeviceHealth; errors: FaultReport[]; states: () => Record<string, unknown>[] } {
  const cap = capturingLogger();
  const errors: FaultReport[] = [];
  const sink = new LuHealthLog({ report: (r) => errors.push(r) }, cap.log, WHERE);
  const health = new DeviceHealth(sink);
  sink.watch(health, () => size);
  return { health, errors, states: () => cap.lines.filter((l) => l.event === 'lu_state') };
}

const fault = (fault: 'truncated' | 'flush' | 'shrunk') => new BackstoreError('EIO', `${fault} here`, { fault });
const settled = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('LuHealthLog', () => {
  it('a truncated file: every error passed on, one offline line', async () => {
    const { health, errors, states } = watched();
    health.backstoreFailed(fault('truncated'), 'read', { offset: 0, length: 512 });
    health.backstoreFailed(fault('truncated'), 'read', { offset: 512, length: 512 });
    await settled();
    expect(errors.map((e) => e.cause)).toEqual(['truncated', 'truncated']);
    expect(states()).toEqual([expect.objectContaining({ ...WHERE, level: 50, change: 'offline', cause: 'truncated', reason: 'truncated here' })]);
  });

  it('a failed write-back: logged, and again after a reload acknowledged the first', async () => {
    const { health, states } = watched();
    health.backstoreFailed(fault('flush'), 'flush');
    await settled();
    health.backstoreFailed(fault('flush'), 'flush');
    await settled();
    expect(health.clearWritebackFailure()).toBe(true);
    health.backstoreFailed(fault('flush'), 'flush');
    await settled();
    expect(states().map((l) => [l.change, l.cause])).toEqual([
      ['writeback_failed', 'flush'],
      ['writeback_failed', 'flush'],
    ]);
  });

  it('a shrunk device: resized with its new size; an LU being reopened is not reported offline', async () => {
    const { health, states } = watched(2048);
    health.backstoreFailed(fault('shrunk'), 'read', { offset: 4096, length: 512 });
    health.takeOffline('reopening', 'being opened again');
    health.report({ cause: 'eio', op: 'read', message: 'late' });
    await settled();
    expect(states()).toEqual([expect.objectContaining({ ...WHERE, level: 40, change: 'resized', newSize: 2048, cause: 'shrunk' })]);
  });
});
