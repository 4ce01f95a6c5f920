import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectClean, lunUrl, runTestCu, startScratchTarget } from '../helpers/libiscsi-cu.js';
import { missingTools } from '../helpers/tools.js';
import type { TestTarget } from '../helpers/target.js';

/**
 * libiscsi's reservation suites. The multipath ones (access and ownership of every type,
 * RESERVE(6) between two initiators) need a second URL: the same LUN through a second session.
 */
const SUITES = [
  'ALL.PrinReadKeys',
  'ALL.PrinServiceactionRange',
  'ALL.PrinReportCapabilities',
  'ALL.ProutRegister',
  'ALL.ProutReserve',
  'ALL.ProutClear',
  'ALL.ProutPreempt',
  'ALL.Reserve6',
];

const missing = missingTools(['iscsi-test-cu']);

describe.skipIf(missing.length > 0)('libiscsi reservation suites (iscsi-test-cu, two sessions)', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startScratchTarget([{ lun: 0, file: 'scratch.img' }]);
  });
  afterAll(() => t?.stop());

  for (const suite of SUITES) {
    it(`${suite} passes with no FAILED or SKIPPED test`, async () => {
      const url = lunUrl(t, 0);
      expectClean(await runTestCu(suite, [url, url]), { noSkips: true });
    });
  }
});
