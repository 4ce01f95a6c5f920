import { describe, expect, it } from 'vitest';
import { parseCunit } from '../../helpers/cunit.js';

const SAMPLE = `
Suite: iSCSIdatasn
  Test: Good ...
    Send WRITE10 (Expecting SUCCESS)
    [OK] WRITE10 returned SUCCESS
passed
  Test: Bad ...
    [FAILED] WRITE10 command failed with status 2
FAILED
    1. test_x.c:98  - CU_ASSERT_NOT_EQUAL(ret,0)
  Test: NotThere ...    [SKIPPED] WRITEVERIFY10 is not implemented.
passed
  Test: Short ...passed    [SKIPPED] PERSISTENT RESERVE IN is not implemented.


Run Summary:    Type  Total    Ran Passed Failed Inactive
              suites      1      1    n/a      0        0
               tests      4      4      3      1        0
`;

describe('parseCunit', () => {
  it('classifies passed, FAILED and [SKIPPED] tests and reads the summary', () => {
    const r = parseCunit(SAMPLE);
    expect(r.passed).toEqual(['Good', 'Short']);
    expect(r.failed).toEqual(['Bad']);
    expect(r.skipped).toEqual(['NotThere']);
    expect(r.summary).toEqual({ total: 4, ran: 4, passed: 3, failed: 1 });
  });

  it('counts a test without a verdict as failed', () => {
    expect(parseCunit('  Test: Crashed ...\n  segfault').failed).toEqual(['Crashed']);
  });
});
