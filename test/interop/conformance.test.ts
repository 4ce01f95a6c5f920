import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCunit } from '../helpers/cunit.js';
import { missingTools, run } from '../helpers/tools.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

/** The suites issue #2 requires to pass with no FAILED test. */
const SUITES = [
  'ALL.TestUnitReady',
  'ALL.Inquiry',
  'ALL.ReadCapacity10',
  'ALL.ReadCapacity16',
  'ALL.Read6',
  'ALL.Read10',
  'ALL.Read12',
  'ALL.Read16',
  'ALL.Write10',
  'ALL.Write12',
  'ALL.Write16',
  'ALL.iSCSIcmdsn',
  'ALL.iSCSIdatasn',
  'ALL.iSCSIResiduals',
];

const missing = missingTools(['iscsi-test-cu']);

describe.skipIf(missing.length > 0)('libiscsi conformance (iscsi-test-cu)', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startTestTarget((raw, dir) => {
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'file', path: join(dir, 'scratch.img'), size: '64MiB' } },
      ];
    });
  });
  afterAll(() => t?.stop());

  for (const suite of SUITES) {
    it(`${suite} passes with no FAILED test`, async () => {
      const r = await run('iscsi-test-cu', ['-d', '-v', '-t', suite, `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`], 300_000);
      const out = r.stdout + r.stderr;
      const res = parseCunit(out);
      expect(res.summary, out).toBeDefined();
      expect(res.summary!.ran, out).toBeGreaterThan(0);
      expect(res.passed.length + res.failed.length + res.skipped.length).toBe(res.summary!.ran);
      expect(res.failed, out).toEqual([]);
      expect(res.summary!.failed, out).toBe(0);
      expect(r.code, out).toBe(0);
    });
  }
});
