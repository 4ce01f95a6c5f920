/** Which format `scatter serve` logs in, and what each looks like (createLogger into a capture). */
import { describe, expect, it } from 'vitest';
import { chooseLogFormat, wantsColour } from '../../../src/cli/log-format.js';
import { createLogger } from '../../../src/cli/logger.js';
import type { LogFormat } from '../../../src/cli/log-format.js';

function captured(format: LogFormat, colorize = false): { log: ReturnType<typeof createLogger>; out: string[] } {
  const out: string[] = [];
  return { log: createLogger({ level: 'info', format, colorize, destination: { write: (s: string) => out.push(s) } }), out };
}

const ESC = '\u001b[';

describe('chooseLogFormat', () => {
  it('a terminal gets pretty lines, anything else JSON; the flag overrides both', () => {
    expect(chooseLogFormat(undefined, true)).toBe('pretty');
    expect(chooseLogFormat(undefined, false)).toBe('json');
    expect(chooseLogFormat('json', true)).toBe('json');
    expect(chooseLogFormat('pretty', false)).toBe('pretty');
  });

  it('colour only on a terminal, and not against NO_COLOR', () => {
    expect(wantsColour(true, {})).toBe(true);
    expect(wantsColour(false, {})).toBe(false);
    expect(wantsColour(true, { NO_COLOR: '1' })).toBe(false);
    expect(wantsColour(true, { NO_COLOR: '' })).toBe(true);
  });
});

describe('createLogger', () => {
  it('json: one JSON object per line with the fields as given', () => {
    const { log, out } = captured('json');
    log.info({ event: 'login', tsih: 5 }, 'login complete');
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toMatchObject({ level: 30, event: 'login', tsih: 5, msg: 'login complete', pid: process.pid, time: expect.any(String) });
  });

  it('pretty: one readable line per event (time, level, event, message, fields), no colour unless asked', () => {
    const { log, out } = captured('pretty');
    log.warn({ event: 'login_failed', reason: 'chap_wrong_secret', nested: { a: 1 } }, 'login failed');
    expect(out).toHaveLength(1);
    const line = out[0]!;
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd().split('\n')).toHaveLength(1);
    expect(line).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] WARN \(\d+\): login_failed: login failed /);
    expect(line).toContain('"reason":"chap_wrong_secret"');
    expect(line).toContain(`(${process.pid})`);
    expect(line).not.toContain(ESC);
    expect(() => JSON.parse(line) as unknown).toThrow();
  });

  it('pretty with colour: ANSI escapes', () => {
    const { log, out } = captured('pretty', true);
    log.error({ event: 'lu_state' }, 'LUN offline');
    expect(out[0]).toContain(ESC);
  });

  it('pretty: a line without an event is its message alone', () => {
    const { log, out } = captured('pretty');
    log.info('stopped');
    expect(out[0]).toMatch(/\] INFO \(\d+\): stopped\n$/);
  });

  it('fields named like secrets are blanked in both formats', () => {
    for (const format of ['json', 'pretty'] as const) {
      const { log, out } = captured(format);
      log.info({ secret: 's3cret-value-1', auth: { mutualSecret: 's3cret-value-2' }, token: 't0ken-value' }, 'x');
      expect(out.join('')).not.toMatch(/s3cret-value|t0ken-value/);
      expect(out.join('')).toContain('[redacted]');
    }
  });
});
