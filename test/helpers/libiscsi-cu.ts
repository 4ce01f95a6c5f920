/** Running libiscsi's iscsi-test-cu against a scratch target, shared by the interop suites. */
import { closeSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseSize } from '../../src/config/size.js';
import { parseCunit, type SuiteResult } from './cunit.js';
import { run } from './tools.js';
import { TEST_IQN, startTestTarget, type TestTarget } from './target.js';

/** One LU of the scratch target, as the config file holds it; `file` names a file in the target's temp dir. */
export interface ScratchLun {
  lun: number;
  file?: string;
  size?: string;
  backstore?: Record<string, unknown>;
  readOnly?: boolean;
  [key: string]: unknown;
}

/**
 * A scratch target whose only target holds `luns`. `file` becomes a file backstore of `size`
 * (default 64 MiB) in the temp dir, merged with `backstore`; a read-only LU's file is made (sparse)
 * first, since a read-only LU never creates it.
 */
export function startScratchTarget(luns: ScratchLun[]): Promise<TestTarget> {
  return startTestTarget((raw, dir) => {
    (raw.targets as { luns: unknown[] }[])[0]!.luns = luns.map(({ file, size = '64MiB', backstore, ...rest }) => {
      if (file === undefined) return { ...rest, backstore };
      const path = join(dir, file);
      if (rest.readOnly === true) {
        closeSync(openSync(path, 'w'));
        truncateSync(path, parseSize(size));
      }
      return { ...rest, backstore: { type: 'file', path, size, ...backstore } };
    });
  });
}

export function lunUrl(t: TestTarget, lun: number): string {
  return `iscsi://127.0.0.1:${t.port}/${TEST_IQN}/${lun}`;
}

export interface CuRun {
  out: string;
  code: number;
  res: SuiteResult;
}

/** `iscsi-test-cu <flags> -t <tests> <urls>`; `flags` default `-d -v` (destructive, verbose). */
export async function runTestCu(tests: string, urls: string[], opts: { flags?: string[]; timeoutMs?: number } = {}): Promise<CuRun> {
  const r = await run('iscsi-test-cu', [...(opts.flags ?? ['-d', '-v']), '-t', tests, ...urls], opts.timeoutMs ?? 300_000);
  const out = r.stdout + r.stderr;
  return { out, code: r.code, res: parseCunit(out) };
}

/**
 * What every run must show: a summary, at least `minRan` tests run, every one accounted for as
 * passed / failed / skipped, none FAILED, exit status 0; with `noSkips`, none skipped either.
 */
export function expectClean({ out, code, res }: CuRun, opts: { minRan?: number; noSkips?: boolean } = {}): void {
  expect(res.summary, out).toBeDefined();
  expect(res.summary!.ran, out).toBeGreaterThanOrEqual(opts.minRan ?? 1);
  expect(res.passed.length + res.failed.length + res.skipped.length, out).toBe(res.summary!.ran);
  expect(res.failed, out).toEqual([]);
  expect(res.summary!.failed, out).toBe(0);
  if (opts.noSkips) expect(res.skipped, out).toEqual([]);
  expect(code, out).toBe(0);
}

/**
 * Every suite of the ALL family, in libiscsi's own order, as a test-list file (one entry per line;
 * iscsi-test-cu runs the lines in order, each as a suite with fresh logins). The one change from
 * `-t ALL`: Sanitize.Reset runs as its own entry after the other SANITIZE tests. With a second
 * URL, Sanitize.Reservations leaves a RESERVE(6) on the second session that libiscsi never
 * releases in that suite (it only logs out sessions it cloned itself), so a Reset in the same
 * suite meets RESERVATION CONFLICT on any target that honours RESERVE(6).
 */
export async function allSuitesList(dir: string): Promise<string> {
  const listed = await run('iscsi-test-cu', ['-l']);
  const suites = listed.stdout.split('\n').map((l) => l.trim()).filter((l) => /^ALL\.[A-Za-z0-9]+$/.test(l));
  expect(suites.length, listed.stdout).toBeGreaterThan(40);
  const lines = suites.flatMap((s) =>
    s === 'ALL.Sanitize' ? ['ALL.Sanitize.[!R]*', 'ALL.Sanitize.Readonly', 'ALL.Sanitize.Reservations', 'ALL.Sanitize.Reset'] : [s],
  );
  const file = join(dir, 'all-suites.txt');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}
