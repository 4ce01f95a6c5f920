/** docs/operations.md, "Logs", documents every event name and every lu_state change the code logs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogEvent, LU_CHANGES } from '../../../src/shared/log-events.js';

const doc = readFileSync(join(process.cwd(), 'docs/operations.md'), 'utf8');
const logs = doc.slice(doc.indexOf('\n## Logs'), doc.indexOf('\n## ', doc.indexOf('\n## Logs') + 1));

describe('docs/operations.md "Logs"', () => {
  it('has a table row for every event', () => {
    for (const event of Object.values(LogEvent)) expect(logs, event).toContain(`| \`${event}\` |`);
  });

  it('has a table row for every lu_state change', () => {
    for (const change of LU_CHANGES) expect(logs, change).toContain(`| \`${change}\` |`);
  });
});
