import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCunit } from '../helpers/cunit.js';
import { missingTools, run } from '../helpers/tools.js';
import { TEST_IQN, startTestTarget, type TestTarget } from '../helpers/target.js';

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
    t = await startTestTarget((raw, dir) => {
      (raw.targets as { luns: unknown[] }[])[0]!.luns = [
        { lun: 0, backstore: { type: 'file', path: join(dir, 'scratch.img'), size: '64MiB' } },
      ];
    });
  });
  afterAll(() => t?.stop());

  for (const suite of SUITES) {
    it(`${suite} passes with no FAILED or SKIPPED test`, async () => {
      const url = `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/0`;
      const r = await run('iscsi-test-cu', ['-d', '-v', '-t', suite, url, url], 300_000);
      const out = r.stdout + r.stderr;
      const res = parseCunit(out);
      expect(res.summary, out).toBeDefined();
      expect(res.summary!.ran, out).toBeGreaterThan(0);
      expect(res.failed, out).toEqual([]);
      expect(res.skipped, out).toEqual([]);
      expect(res.passed.length, out).toBe(res.summary!.ran);
      expect(r.code, out).toBe(0);
    });
  }
});
