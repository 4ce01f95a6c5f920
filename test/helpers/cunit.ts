/** Parsing iscsi-test-cu's CUnit output. */
export interface SuiteResult {
  passed: string[];
  failed: string[];
  skipped: string[];
  /** "tests" row of CUnit's Run Summary: total, ran, passed, failed. */
  summary?: { total: number; ran: number; passed: number; failed: number };
}

/**
 * iscsi-test-cu (CUnit, verbose mode) prints "  Test: <name> ..." then the test's log,
 * then "passed" or "FAILED"; libiscsi marks a test it could not run with "[SKIPPED]"
 * before "passed". The Run Summary's "tests" row is the authoritative count.
 */
export function parseCunit(output: string): SuiteResult {
  const res: SuiteResult = { passed: [], failed: [], skipped: [] };
  const chunks = output.split(/^\s*Test: /m).slice(1);
  for (const chunk of chunks) {
    const name = chunk.split(/\s/, 1)[0]!;
    const end = chunk.search(/Run Summary:/);
    const body = end >= 0 ? chunk.slice(0, end) : chunk;
    const passedAt = body.search(/\.\.\.passed|^passed/m);
    if (/\.\.\.FAILED|^FAILED/m.test(body)) res.failed.push(name);
    else if (passedAt >= 0 && body.slice(0, passedAt).includes('[SKIPPED]')) res.skipped.push(name);
    else if (passedAt >= 0) res.passed.push(name);
    else res.failed.push(name);
  }
  const m = /^\s*tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(output);
  if (m) res.summary = { total: Number(m[1]), ran: Number(m[2]), passed: Number(m[3]), failed: Number(m[4]) };
  return res;
}

