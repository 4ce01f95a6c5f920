import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectClean, lunUrl, runTestCu, startScratchTarget } from '../helpers/libiscsi-cu.js';
import { missingTools } from '../helpers/tools.js';
import type { TestTarget } from '../helpers/target.js';

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
    t = await startScratchTarget([{ lun: 0, file: 'scratch.img' }]);
  });
  afterAll(() => t?.stop());

  for (const suite of SUITES) {
    it(`${suite} passes with no FAILED test`, async () => {
      expectClean(await runTestCu(suite, [lunUrl(t, 0)]));
    });
  }
});
