/** The errors the SCSI core throws carry stable codes (errors.ts), with their messages unchanged. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ScsiError, type ScsiErrorCode } from '../../../src/scsi/errors.js';
import { FileReservationStore } from '../../../src/scsi/pr/file-store.js';
import { SanitizeMarker } from '../../../src/scsi/sbc/sanitize-marker.js';
import { SanitizeState } from '../../../src/scsi/sbc/sanitize-state.js';
import { ScsiTargetCore } from '../../../src/scsi/target-core.js';
import { MemDevice } from '../../helpers/mem-device.js';
import { makeLu, TARGET } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'scatter-scsi-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

function expectCode(err: unknown, code: ScsiErrorCode, message: RegExp): void {
  expect(err).toBeInstanceOf(ScsiError);
  expect(err).toMatchObject({ name: 'ScsiError', code });
  expect((err as Error).message).toMatch(message);
}

describe('ScsiError codes', () => {
  it('LUN inventory: LUN_EXISTS, LUN_NOT_FOUND, NOT_RESIZABLE', async () => {
    const lu = () => makeLu(new MemDevice(8));
    expectCode(thrown(() => new ScsiTargetCore({ targetName: TARGET, luns: [lu(), lu()] })), 'LUN_EXISTS', /LUN 0 configured twice/);
    const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu()] });
    expectCode(thrown(() => core.addLogicalUnit(lu())), 'LUN_EXISTS', /LUN 0 already exists/);
    expectCode(await core.replaceLogicalUnit(makeLu(new MemDevice(8), { lun: 3 }), { powerOn: true }).catch((e: unknown) => e), 'LUN_NOT_FOUND', /LUN 3 does not exist/);
    expectCode(await core.resizeLogicalUnit(3, { size: 8192 }).catch((e: unknown) => e), 'LUN_NOT_FOUND', /LUN 3 does not exist/);
    expectCode(await core.resizeLogicalUnit(0, { size: 8192 }).catch((e: unknown) => e), 'NOT_RESIZABLE', /cannot be resized/);
  });

  it('sanitize: SANITIZE_BUSY for a second operation, SANITIZE_MARKER when the marker cannot be written', () => {
    const s = new SanitizeState();
    s.start({ total: 1, run: () => new Promise<void>(() => {}) }, true);
    expectCode(thrown(() => s.start({ total: 1, run: async () => {} }, true)), 'SANITIZE_BUSY', /already in progress/);
    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    const marker = new SanitizeMarker(join(notADir, 'marker.json'));
    const err = thrown(() => marker.set(true));
    expectCode(err, 'SANITIZE_MARKER', /cannot be written/);
    expect((err as Error).cause).toMatchObject({ code: expect.stringMatching(/^E[A-Z]+$/) }); // the errno stays reachable for fault reports
  });

  it('a corrupt reservation state file: PR_STATE_INVALID', () => {
    const path = join(dir, 'pr.json');
    writeFileSync(path, JSON.stringify({ registrations: 'no' }));
    expectCode(thrown(() => new FileReservationStore(path).load()), 'PR_STATE_INVALID', /not a reservation state file/);
  });
});
