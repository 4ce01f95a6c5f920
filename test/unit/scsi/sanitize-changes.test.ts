/** SanitizeState tells its owner every change of state, once, in order (the LU logs them as lu_state). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SanitizeMarker } from '../../../src/scsi/sbc/sanitize-marker.js';
import { SanitizeState, type SanitizeChange, type SanitizeOperation } from '../../../src/scsi/sbc/sanitize-state.js';

const dir = mkdtempSync(join(tmpdir(), 'scatter-sanitize-changes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ok: SanitizeOperation = { name: 'OVERWRITE', total: 1, run: async () => undefined };
const failing: SanitizeOperation = { name: 'BLOCK ERASE', total: 1, run: () => Promise.reject(new Error('EIO')) };

function watched(marker?: SanitizeMarker): { state: SanitizeState; changes: SanitizeChange[] } {
  const changes: SanitizeChange[] = [];
  return { state: new SanitizeState({ marker, onChange: (c) => changes.push(c) }), changes };
}

describe('SanitizeState changes', () => {
  it('started then completed', async () => {
    const { state, changes } = watched();
    expect(await state.start(ok, true)).toBe('completed');
    expect(changes).toEqual([{ kind: 'started', operation: 'OVERWRITE', ause: true }, { kind: 'completed' }]);
  });

  it('started then failed with the error; EXIT FAILURE MODE clears it once, a second one changes nothing', async () => {
    const { state, changes } = watched();
    expect(await state.start(failing, true)).toBe('failed');
    expect(state.exitFailureMode()).toBe(true);
    expect(state.exitFailureMode()).toBe(true);
    expect(changes).toEqual([
      { kind: 'started', operation: 'BLOCK ERASE', ause: true },
      { kind: 'failed', error: new Error('EIO') },
      { kind: 'failure_cleared' },
    ]);
  });

  it('an operation a restart interrupted: failed as the state is built', () => {
    const marker = new SanitizeMarker(join(dir, 'sanitize', 'lu0.json'));
    marker.set(false);
    const { changes } = watched(marker);
    expect(changes).toEqual([{ kind: 'failed', error: expect.objectContaining({ message: expect.stringMatching(/interrupted by a restart/) }) }]);
  });
});
