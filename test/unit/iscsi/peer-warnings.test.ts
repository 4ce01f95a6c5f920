import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PeerWarnings, peerAddress } from '../../../src/iscsi/peer-warnings.js';

function capture(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const log: Logger = pino({ level: 'warn' }, stream);
  return {
    log,
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('PeerWarnings', () => {
  it('logs a burst per peer and window, then one line with the count of what it held back', () => {
    let now = 0;
    const c = capture();
    const w = new PeerWarnings(c.log, { burst: 3, windowMs: 1000 }, () => now);
    for (let k = 0; k < 50; k++) w.warn('10.0.0.1', { k }, 'bad PDU');
    w.warn('10.0.0.2', {}, 'bad PDU'); // another peer has a budget of its own
    expect(c.lines().filter((l) => l.msg === 'bad PDU')).toHaveLength(4);
    now = 1000;
    w.warn('10.0.0.1', { k: 50 }, 'bad PDU');
    const lines = c.lines();
    expect(lines.find((l) => l.msg === 'warnings from this peer were suppressed')).toMatchObject({ peer: '10.0.0.1', suppressed: 47 });
    expect(lines.filter((l) => l.msg === 'bad PDU')).toHaveLength(5);
  });

  it('cuts long peer strings and remembers a bounded number of peers', () => {
    const c = capture();
    const w = new PeerWarnings(c.log, { burst: 1, windowMs: 60_000, maxPeers: 2, maxStringLength: 10 }, () => 0);
    w.warn('a', { why: 'x'.repeat(8192) }, 'long');
    expect(String(c.lines()[0]!.why)).toBe(`${'x'.repeat(10)}… (8192 chars)`);
    w.warn('b', {}, 'm');
    w.warn('c', {}, 'm'); // 'a' is forgotten: it may warn again at once
    w.warn('a', {}, 'm');
    expect(c.lines().filter((l) => l.msg === 'm')).toHaveLength(3);
  });

  it('names IPv4-mapped IPv6 peers by their IPv4 address', () => {
    expect(peerAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(peerAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});
