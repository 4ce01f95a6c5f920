/** Admin API security: the token file, bearer checks, the failure limit, and that the token never leaks. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../helpers/admin-client.js';
import { capturingLogger, startTestTarget, type TestTarget } from '../../helpers/target.js';

describe('admin API authentication', () => {
  let t: TestTarget | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('makes a 0600 token file on first start and reuses it on the second; the token is in no log line or answer', async () => {
    const cap = capturingLogger();
    t = await startTestTarget(undefined, { log: cap.log });
    const file = join(t.config.stateDir, 'admin-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url
    expect(cap.messages('admin API token created')).toEqual([expect.objectContaining({ tokenFile: file })]);

    const admin = AdminClient.of(t);
    expect((await admin.get('/v1/sessions')).status).toBe(200);
    const wrong = await admin.get('/v1/sessions', { token: `${token}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain(token);

    // Second start on the same state directory: the same token, read, not made again.
    await t.scatter.stop(0);
    const again = capturingLogger();
    const dir = t.dir;
    t = await startTestTarget(undefined, { log: again.log, dir });
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
    expect(again.messages('admin API token read')).toHaveLength(1);
    expect(again.messages('admin API token created')).toHaveLength(0);
    expect((await AdminClient.of(t).get('/v1/sessions')).status).toBe(200);

    const everything = JSON.stringify([...cap.lines, ...again.lines]);
    expect(everything).toContain('admin-token');
    expect(everything).not.toContain(token);
  });

  it('refuses to start with a token file others may read', async () => {
    t = await startTestTarget();
    const file = join(t.config.stateDir, 'admin-token');
    await t.scatter.stop(0);
    const { chmodSync } = await import('node:fs');
    chmodSync(file, 0o644);
    await expect(startTestTarget(undefined, { dir: t.dir })).rejects.toThrow(/admin token file .* has mode 0644: others may have read it/);
  });

  it('answers 401 problem+json without a token or with a wrong one; /healthz, /metrics and the docs page stay open', async () => {
    t = await startTestTarget();
    const admin = AdminClient.of(t);
    for (const token of [null, 'not-the-token', '']) {
      const r = await admin.get('/v1/sessions', { token });
      expect(r.status).toBe(401);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(r.json).toMatchObject({ type: 'https://scatter.dev/problems/unauthorized', status: 401, instance: '/v1/sessions' });
    }
    const basic = await admin.get('/v1/sessions', { headers: { authorization: `Basic ${admin.token}` }, token: null });
    expect(basic.status).toBe(401);
    // The API document needs the token, whichever path serves it.
    expect((await admin.get('/v1/openapi.json', { token: null })).status).toBe(401);
    expect((await admin.get('/v1/docs/json', { token: null })).status).toBe(401);
    // An unknown path without a token says nothing about which paths exist.
    expect((await admin.get('/v1/nothing-here', { token: null })).status).toBe(401);

    const health = await admin.get('/healthz', { token: null });
    expect([health.status, health.json]).toEqual([200, { status: 'ok' }]);
    const metrics = await admin.get('/metrics', { token: null });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('scatter_');
    const docs = await admin.get('/v1/docs', { token: null });
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('swagger-ui');
  });

  it('answers 429 with Retry-After after 10 failures in a minute from one address, the right token included, until the window ends', async () => {
    let now = 1_000_000;
    t = await startTestTarget(undefined, { start: { admin: { authLimits: { maxFailures: 10, windowMs: 60_000, now: () => now } } } });
    const admin = AdminClient.of(t);
    for (let n = 0; n < 10; n++) expect((await admin.get('/v1/sessions', { token: 'guess' })).status).toBe(401);
    now += 20_000;
    for (const token of ['guess', admin.token]) {
      const r = await admin.get('/v1/sessions', { token });
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('40');
      expect(r.json).toMatchObject({ type: 'https://scatter.dev/problems/rate-limited', status: 429 });
    }
    // The probes are never limited.
    expect((await admin.get('/healthz', { token: null })).status).toBe(200);
    now += 40_000;
    expect((await admin.get('/v1/sessions')).status).toBe(200);
  });
});
