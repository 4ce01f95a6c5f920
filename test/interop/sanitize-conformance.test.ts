import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClean, lunUrl, runTestCu, startScratchTarget } from '../helpers/libiscsi-cu.js';
import { missingTools } from '../helpers/tools.js';
import type { TestTarget } from '../helpers/target.js';

/**
 * libiscsi's SANITIZE suite (`iscsi-test-cu -d -S -t ALL.Sanitize`) on a plain and a thin 64 MiB LU,
 * with the second URL (the same LU through a second session) that Readonly and Reservations use.
 *
 * Sanitize.Reset is not run here: test/interop/conformance-full.test.ts runs it on both LU
 * profiles (as its own test-list entry, after the others), and it takes a minute per LU. It
 * cannot share an iscsi-test-cu suite with the others: with a second URL, Sanitize.Reservations
 * takes a RESERVE(6) on that second session and never releases it (libiscsi only logs a second
 * session out when it cloned it for one URL), so a Reset run after it in the same process gets
 * RESERVATION CONFLICT for its SANITIZE on any target that honours RESERVE(6).
 *
 * Sanitize.Reset sleeps 3 s after starting an OVERWRITE and then demands SANITIZE IN PROGRESS,
 * then again after resets and a re-login: at sanitizeRate 10 MiB/s a 64 MiB overwrite lasts
 * about 6.4 s. It then polls TEST UNIT READY every 60 s until the sanitize ends, so it takes a
 * little over a minute per LU; a hard timeout ends iscsi-test-cu if the sanitize never ends.
 */
const RATE = '10MiB';
const SUITE_TIMEOUT_MS = 300_000;

/** Tests that skip at least in part, and why: CRYPTO ERASE is not offered (no media encryption). */
const PARTLY_CRYPTO = ['Readonly', 'Reservations'];
const PROFILES = [
  // BLOCK ERASE is deallocation: thin LUs only.
  { name: 'plain', lun: 0, maySkip: ['CryptoErase', 'BlockErase', ...PARTLY_CRYPTO] },
  { name: 'thin', lun: 1, maySkip: ['CryptoErase', ...PARTLY_CRYPTO] },
] as const;
/** These must run and pass on both LUs. */
const MUST_PASS = ['Overwrite', 'OverwriteReserved', 'ExitFailureMode', 'InvalidServiceAction'];
const ALL_BUT_RESET = [
  'BlockErase', 'BlockEraseReserved', 'CryptoErase', 'CryptoEraseReserved', 'ExitFailureMode',
  'InvalidServiceAction', 'Overwrite', 'OverwriteReserved', 'Readonly', 'Reservations',
].map((n) => `ALL.Sanitize.${n}`);

/**
 * The log of one test: from its "Test: <name>" line to CUnit's verdict ("passed" / "FAILED" at a
 * line start), before the suite clean-up's own log (libiscsi's clean-up PRIN meets the RESERVE(6)
 * that Sanitize.Reservations leaves on the second session).
 */
function testLog(output: string, name: string): string {
  const header = new RegExp(`^[ \\t]*Test: ${name} [^\\n]*\\n`, 'm').exec(output);
  if (!header) return '';
  const rest = output.slice(header.index + header[0].length);
  const end = rest.search(/^(passed|FAILED)|^[ \t]*Test: /m);
  return end < 0 ? rest : rest.slice(0, end);
}

const missing = missingTools(['iscsi-test-cu']);

describe.skipIf(missing.length > 0)('libiscsi SANITIZE suite (iscsi-test-cu -d -S -t ALL.Sanitize)', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startScratchTarget([
      { lun: 0, file: 'plain.img', sanitizeRate: RATE },
      { lun: 1, file: 'thin.img', backstore: { thin: true }, sanitizeRate: RATE },
    ]);
  });
  afterAll(() => t?.stop());

  for (const profile of PROFILES) {
    it(`${profile.name} LU: no FAILED; OVERWRITE and EXIT FAILURE MODE run; only CRYPTO ERASE (and BLOCK ERASE off thin) skip`, async () => {
      const url = lunUrl(t, profile.lun);
      const r = await runTestCu(ALL_BUT_RESET.join(','), [url, url], { flags: ['-d', '-S', '-v', '-V'], timeoutMs: SUITE_TIMEOUT_MS });
      const { out, res } = r;
      expectClean(r, { minRan: ALL_BUT_RESET.length });
      expect(res.summary!.ran, out).toBe(ALL_BUT_RESET.length);
      for (const name of MUST_PASS) expect(res.passed, out).toContain(name);
      const allowed: readonly string[] = profile.maySkip;
      expect(res.skipped.filter((s) => !allowed.includes(s)), out).toEqual([]);
      // Readonly and Reservations skip only their CRYPTO ERASE half: the OVERWRITE half ran.
      for (const name of PARTLY_CRYPTO) {
        const log = testLog(out, name);
        expect(log, out).toContain('Test SANITIZE OVERWRITE with initialization pattern of one full block');
        expect(log, out).not.toContain('[SKIPPED] SANITIZE OVERWRITE');
        expect(log, out).not.toContain('[FAILED]');
      }
    }, SUITE_TIMEOUT_MS + 30_000);

  }
});
