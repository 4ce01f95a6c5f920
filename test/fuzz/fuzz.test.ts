/**
 * The structured iSCSI fuzzer (docs/fuzzing.md): a seeded run of cases over every PDU type an
 * initiator may send, against the built CLI as a child process, with two bystander sessions.
 * It fails with the seed, every distinct failure and the PDUs of its first case.
 *
 *   SCATTER_FUZZ_SEED       run seed (default: random, printed)
 *   SCATTER_FUZZ_CASES      number of cases (default 600)
 *   SCATTER_FUZZ_SECONDS    stop starting cases after this long (default: none)
 *   SCATTER_FUZZ_ONLY       comma-separated case indices to replay
 *   SCATTER_FUZZ_GENERATORS comma-separated generator names to run (SCATTER_FUZZ_SKIP: not to run)
 *   SCATTER_FUZZ_CONCURRENCY parallel cases (default 4)
 *   SCATTER_FUZZ_ANSWER_MS  how long an owed answer may take (default 5000)
 *   SCATTER_FUZZ_TRACES     "all": print every failing case's PDUs; "every": every case's, failed or not
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli-proc.js';
import { formatReport, runFuzz } from './harness.js';
import { runSeed } from './rng.js';

const env = process.env;
const num = (v: string | undefined, d: number): number => (v === undefined || v === '' ? d : Number(v));
const list = (v: string | undefined): string[] | undefined => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

const seed = runSeed(env.SCATTER_FUZZ_SEED);
const cases = num(env.SCATTER_FUZZ_CASES, 600);
const seconds = env.SCATTER_FUZZ_SECONDS ? num(env.SCATTER_FUZZ_SECONDS, 0) : undefined;
const answerMs = num(env.SCATTER_FUZZ_ANSWER_MS, 5000);
const only = list(env.SCATTER_FUZZ_ONLY)?.map(Number);
// Upper bound on the whole run: the cases (or the time budget), then settling and the bystanders' read-back.
const timeout = (seconds ?? Math.max(60, cases)) * 1000 + 240_000;

describe('iSCSI fuzzer', () => {
  it(
    `seed ${seed}: no crash, one response per task, PDUs within MaxRecvDataSegmentLength, bystanders unaffected, RSS bounded, no hang`,
    async () => {
      if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');
      process.stderr.write(`scatter fuzz: seed ${seed} (replay with SCATTER_FUZZ_SEED=${seed})\n`);
      const report = await runFuzz({
        seed,
        cases,
        seconds,
        only,
        generators: list(env.SCATTER_FUZZ_GENERATORS),
        skip: list(env.SCATTER_FUZZ_SKIP),
        concurrency: num(env.SCATTER_FUZZ_CONCURRENCY, 4),
        answerMs,
        bystanderMs: 10_000,
        progress: (line) => process.stderr.write(`scatter fuzz: ${line}\n`),
        traceEvery: env.SCATTER_FUZZ_TRACES === 'every',
      });
      const text = formatReport(report, env.SCATTER_FUZZ_TRACES === 'all' ? 'all' : 'first');
      process.stderr.write(`${text}\n`);
      expect(report.casesRun, 'cases run').toBeGreaterThan(0);
      expect(report.failedCases.length + report.global.length, text).toBe(0);
    },
    timeout,
  );
});
