/**
 * The shipped alert rules (config/prometheus-rules.yml) under Prometheus's own tools: promtool
 * accepts the rules and the scrape config that loads them, and every rule's unit test
 * (test/prometheus/*.yml, synthetic series) passes. Every alert must be shown firing by at least
 * one of them, so a rule cannot be added untested.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { missingTools, run } from '../helpers/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES = join(ROOT, 'config/prometheus-rules.yml');
const CONFIG = join(ROOT, 'config/prometheus.yml');
const TESTS = join(ROOT, 'test/prometheus');
const testFiles = readdirSync(TESTS)
  .filter((f) => f.endsWith('.yml'))
  .sort();

interface Rule {
  alert?: string;
  record?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTestFile {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const missing = missingTools(['promtool'], 'apt-get install prometheus');
const tmp = mkdtempSync(join(tmpdir(), 'scatter-promtool-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(missing.length > 0)('alert rules under promtool', () => {
  it('promtool check rules accepts config/prometheus-rules.yml, and check config the scrape config that loads it', async () => {
    const r = await run('promtool', ['check', 'rules', RULES]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    const c = await run('promtool', ['check', 'config', CONFIG]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toContain('SUCCESS: 1 rule files found');
  });

  it.each(testFiles)('promtool test rules test/prometheus/%s', async (file) => {
    const r = await run('promtool', ['test', 'rules', join(TESTS, file)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('fails a rule test whose expectation is wrong (the check above can fail)', async () => {
    // target-down.yml expecting the alert one minute early, while it is still pending.
    const text = readFileSync(join(TESTS, 'target-down.yml'), 'utf8')
      .replace('../../config/prometheus-rules.yml', RULES)
      .replace('eval_time: 3m', 'eval_time: 2m');
    const file = join(tmp, 'early.yml');
    writeFileSync(file, text);
    const r = await run('promtool', ['test', 'rules', file]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('FAILED');
  });
});

describe('alert rules: coverage and shape', () => {
  it('every rule is an alert with a severity, a summary and a description', () => {
    expect(rules.length).toBeGreaterThanOrEqual(9);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^Scatter[A-Z]\w+$/);
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
  });

  it('every alert is shown firing by a test in test/prometheus/, and every test names a rule of the shipped file', () => {
    const names = new Set(rules.map((r) => r.alert));
    const fired = new Set<string>();
    for (const file of testFiles) {
      const t = parse(readFileSync(join(TESTS, file), 'utf8')) as RuleTestFile;
      expect(t.rule_files, file).toEqual(['../../config/prometheus-rules.yml']);
      for (const c of t.tests.flatMap((x) => x.alert_rule_test ?? [])) {
        expect(names, `${file}: ${c.alertname}`).toContain(c.alertname);
        if ((c.exp_alerts ?? []).length > 0) fired.add(c.alertname);
      }
    }
    expect([...names].filter((n) => n !== undefined && !fired.has(n))).toEqual([]);
  });
});
