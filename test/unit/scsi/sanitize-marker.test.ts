import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SanitizeMarker } from '../../../src/scsi/sbc/sanitize-marker.js';
import { SanitizeState, type SanitizeOperation } from '../../../src/scsi/sbc/sanitize-state.js';

const dir = mkdtempSync(join(tmpdir(), 'scatter-sanitize-marker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): SanitizeMarker => new SanitizeMarker(join(dir, 'sanitize', `lu${n++}.json`));

const ok: SanitizeOperation = { total: 1, run: async () => undefined };
const failing: SanitizeOperation = { total: 1, run: () => Promise.reject(new Error('EIO')) };
const hanging: SanitizeOperation = { total: 1, run: () => new Promise<void>(() => undefined) };

describe('SanitizeMarker', () => {
  it('round-trips AUSE, reads nothing when absent, and a torn file as an interrupted AUSE = 0 operation', () => {
    const m = fresh();
    expect(m.read()).toBeUndefined();
    m.set(true);
    expect(m.read()).toEqual({ ause: true });
    m.set(false);
    expect(m.read()).toEqual({ ause: false });
    m.clear();
    expect(m.read()).toBeUndefined();
    expect(existsSync(m.path)).toBe(false);
    m.set(true);
    writeFileSync(m.path, '{"au');
    expect(m.read()).toEqual({ ause: false });
  });
});

describe('SanitizeState with a marker', () => {
  it('a completed operation removes the marker; a failed one keeps it', async () => {
    const m1 = fresh();
    expect(await new SanitizeState({ marker: m1 }).start(ok, false)).toBe('completed');
    expect(existsSync(m1.path)).toBe(false);
    const m2 = fresh();
    expect(await new SanitizeState({ marker: m2 }).start(failing, true)).toBe('failed');
    expect(m2.read()).toEqual({ ause: true });
  });

  it('an operation still running when the target stops leaves the next LU failed, restricted per its AUSE', () => {
    const restricted = fresh();
    new SanitizeState({ marker: restricted }).start(hanging, false).catch(() => undefined);
    const after = new SanitizeState({ marker: restricted });
    expect(after.failed).toBe(true);
    expect(after.failedRestricted).toBe(true);
    // AUSE = 0: EXIT FAILURE MODE is refused and the marker stays; only a completed sanitize clears it.
    expect(after.exitFailureMode()).toBe(false);
    expect(existsSync(restricted.path)).toBe(true);

    const unrestricted = fresh();
    new SanitizeState({ marker: unrestricted }).start(hanging, true).catch(() => undefined);
    const again = new SanitizeState({ marker: unrestricted });
    expect(again.failed && !again.failedRestricted).toBe(true);
    expect(again.exitFailureMode()).toBe(true);
    expect(again.idle).toBe(true);
    expect(existsSync(unrestricted.path)).toBe(false);
  });

  it('a restricted failed condition is left by a sanitize that completes, which clears the marker', async () => {
    const m = fresh();
    m.set(false);
    const s = new SanitizeState({ marker: m });
    expect(s.failedRestricted).toBe(true);
    expect(await s.start(ok, false)).toBe('completed');
    expect(s.idle).toBe(true);
    expect(existsSync(m.path)).toBe(false);
  });
});

/** A marker whose directory is replaced by a regular file: it can be neither written nor removed (ENOTDIR). */
function blocked(): { marker: SanitizeMarker; block(): void; unblock(): void } {
  const base = join(dir, `blocked${n++}`);
  const marker = new SanitizeMarker(join(base, 'sanitize', 'lu.json'));
  return {
    marker,
    block: () => {
      rmSync(base, { recursive: true, force: true });
      writeFileSync(base, 'not a directory');
    },
    unblock: () => rmSync(base, { recursive: true, force: true }),
  };
}

describe('the marker is written first: an operation whose marker cannot be saved does not happen', () => {
  it('set() fails: start() throws, nothing runs, the state stays idle, the failure is reported', () => {
    const b = blocked();
    b.block();
    const errors: string[] = [];
    const s = new SanitizeState({ marker: b.marker, onMarkerError: (op) => errors.push(op) });
    let ran = false;
    expect(() => s.start({ total: 1, run: async () => void (ran = true) }, true)).toThrow(/sanitize marker cannot be written/);
    expect(s.idle).toBe(true);
    expect(ran).toBe(false);
    expect(errors).toEqual(['set']);
    b.unblock();
    expect(b.marker.read()).toBeUndefined();
  });

  it('EXIT FAILURE MODE whose marker cannot be removed fails and the LU stays failed', () => {
    const b = blocked();
    b.marker.set(true);
    const errors: string[] = [];
    const s = new SanitizeState({ marker: b.marker, onMarkerError: (op) => errors.push(op) });
    expect(s.failed && !s.failedRestricted).toBe(true);
    b.block();
    expect(() => s.exitFailureMode()).toThrow(/cannot be removed/);
    expect(s.failed).toBe(true);
    expect(errors).toEqual(['clear']);
  });

  it('a completed operation whose marker cannot be removed leaves the LU failed, as a restart would find it', async () => {
    const b = blocked();
    const s = new SanitizeState({ marker: b.marker });
    let finish!: () => void;
    const finished = s.start({ total: 1, run: () => new Promise<void>((r) => (finish = r)) }, true);
    await new Promise<void>((r) => setImmediate(r));
    b.block();
    finish();
    expect(await finished).toBe('failed');
    expect(s.failed && !s.failedRestricted).toBe(true);
  });
});
