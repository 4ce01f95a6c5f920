/**
 * The CHAP throttle as a real initiator sees it (libiscsi's iscsi-inq): a wrong secret is
 * refused after the delay, the right one then works; after repeated failures the right secret
 * is refused exactly like a wrong one; an initiator coming from another address (IPv6 loopback
 * here) is not affected.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingTools, run } from '../helpers/tools.js';
import { startTestTarget, type TestTarget } from '../helpers/target.js';

const TARGET = 'iqn.2026-11.io.scatter:throttled-libiscsi';
const USER = 'libiscsi-user';
const SECRET = 'libiscsi-secret-77';
const DELAY = 300;
const LOCK_AFTER = 3;

const missing = missingTools(['iscsi-inq']);

/** Whether this host can listen on ::1 (containers without IPv6 cannot). */
async function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}
const hasIpv6 = await ipv6Loopback();
if (!hasIpv6) process.stderr.write('chap-throttle-libiscsi: no IPv6 loopback, the other-address check is skipped\n');

describe.skipIf(missing.length > 0)('CHAP throttle seen by libiscsi', () => {
  let t: TestTarget;
  beforeAll(async () => {
    t = await startTestTarget((raw) => {
      raw.targets = [
        {
          iqn: TARGET,
          auth: { method: 'chap', user: USER, secret: SECRET },
          luns: [{ lun: 0, backstore: { type: 'null', size: '8MiB' } }],
        },
      ];
      const iscsi = raw.iscsi as Record<string, unknown>;
      if (hasIpv6) iscsi.portals = [{ host: '127.0.0.1', port: 3260 }, { host: '::1', port: 3260 }];
      iscsi.authThrottle = { failureDelayMs: DELAY, maxFailureDelayMs: DELAY, lockoutAfterFailures: LOCK_AFTER, lockoutMs: 120_000 };
    });
  });
  afterAll(() => t?.stop());

  const url = (secret: string, host = '127.0.0.1', port = t.port) => `iscsi://${USER}%${secret}@${host}:${port}/${TARGET}/0`;

  async function inq(secret: string, initiator: string, host?: string, port?: number) {
    const started = performance.now();
    const r = await run('iscsi-inq', ['-i', initiator, url(secret, host, port)]);
    return { ...r, ms: performance.now() - started };
  }

  it('a wrong secret is refused after the delay, the right secret then logs in', async () => {
    const initiator = 'iqn.2007-10.com.github:sahlberg:libiscsi:throttle-a';
    const wrong = await inq('wrong-secret-000000', initiator);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toMatch(/login|auth/i);
    expect(wrong.ms).toBeGreaterThanOrEqual(DELAY - 5);
    const right = await inq(SECRET, initiator);
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toMatch(/SCATTER/);
  });

  it('after repeated failures the right secret is refused exactly like a wrong one', async () => {
    const initiator = 'iqn.2007-10.com.github:sahlberg:libiscsi:throttle-b';
    let lastWrong = '';
    for (let i = 0; i < LOCK_AFTER; i++) {
      const wrong = await inq(`wrong-secret-${i}-00000`, initiator);
      expect(wrong.code).not.toBe(0);
      lastWrong = wrong.stderr;
    }
    const right = await inq(SECRET, initiator);
    expect(right.code).not.toBe(0);
    expect(right.ms).toBeGreaterThanOrEqual(DELAY - 5);
    // libiscsi reports the same failure: it cannot tell a lockout from a wrong secret.
    expect(right.stderr).toBe(lastWrong);
  });

  it.skipIf(!hasIpv6)('meanwhile another initiator from another address logs in', async () => {
    const port = t.scatter.ports[1]!;
    const other = await inq(SECRET, 'iqn.2007-10.com.github:sahlberg:libiscsi:throttle-c', '[::1]', port);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toMatch(/SCATTER/);
  });
});
