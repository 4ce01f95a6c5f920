/**
 * Every error as application/problem+json: unknown route, bad JSON, wrong content type, too large,
 * validation with field paths and rules, and an unexpected error (500, logged with its stack, no
 * stack in the answer). A route module added by the test plugs in exactly as a real one does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AdminRoutes } from '../../../src/admin/app.js';
import { ApiProblem, problemResponses } from '../../../src/admin/problem.js';
import { ADMIN_ROUTES } from '../../../src/admin/routes/index.js';
import { AdminClient } from '../../helpers/admin-client.js';
import { capturingLogger, startTestTarget, type TestTarget } from '../../helpers/target.js';

const Lun = z.object({ lun: z.number().int().min(0).max(255) });
const Body = z.object({ targets: z.array(z.object({ iqn: z.string().min(1), luns: z.array(Lun) })) });

/** Test-only routes: a body to validate, a handler that throws a problem, one that fails unexpectedly. */
const testRoutes: AdminRoutes = (app) => {
  app.post('/test/echo', { schema: { body: Body, response: { 200: Body, ...problemResponses() } } }, (req) => req.body);
  app.get('/test/conflict', () => {
    throw new ApiProblem('conflict', 'target is in use');
  });
  app.get('/test/broken', () => {
    throw new Error('secret internals at /var/lib/x');
  });
};

describe('admin API problem details', () => {
  let t: TestTarget;
  let admin: AdminClient;
  const cap = capturingLogger();
  beforeAll(async () => {
    t = await startTestTarget(undefined, { log: cap.log, start: { admin: { routes: [...ADMIN_ROUTES, testRoutes] } } });
    admin = AdminClient.of(t);
  });
  afterAll(() => t.stop());

  const json = { 'content-type': 'application/json' };

  function expectProblem(r: { status: number; headers: Headers; json: Record<string, unknown> | undefined }, status: number, kind: string): void {
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ type: `https://scatter.dev/problems/${kind}`, status, title: expect.any(String), detail: expect.any(String) });
    expect(JSON.stringify(r.json)).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack frames
  }

  it('an unknown route is a 404 not-found problem', async () => {
    const r = await admin.get('/v1/no/such/thing?x=1');
    expectProblem(r, 404, 'not-found');
    expect(r.json).toMatchObject({ instance: '/v1/no/such/thing' });
  });

  it('a body that is not JSON is a 400 malformed problem; a wrong content type 415; too large 413', async () => {
    expectProblem(await admin.request('POST', '/v1/test/echo', { body: '{"targets": [', headers: json }), 400, 'malformed');
    expectProblem(await admin.request('POST', '/v1/test/echo', { body: 'targets=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported-media-type');
    const big = JSON.stringify({ targets: [{ iqn: 'x'.repeat(1_100_000), luns: [] }] });
    expectProblem(await admin.request('POST', '/v1/test/echo', { body: big, headers: json }), 413, 'payload-too-large');
  });

  it('a body that does not validate names each field by path and rule', async () => {
    const body = JSON.stringify({ targets: [{ iqn: 'iqn.a', luns: [{ lun: 1 }, { lun: 300 }] }, { iqn: '', luns: 'none' }] });
    const r = await admin.request('POST', '/v1/test/echo', { body, headers: json });
    expectProblem(r, 400, 'validation');
    expect(r.json!.errors).toEqual([
      { path: 'body.targets[0].luns[1].lun', rule: 'too_big', message: expect.any(String) },
      { path: 'body.targets[1].iqn', rule: 'too_small', message: expect.any(String) },
      { path: 'body.targets[1].luns', rule: 'invalid_type', message: expect.any(String) },
    ]);
    expect(r.json!.detail).toMatch(/^body\.targets\[0\]\.luns\[1\]\.lun: .* \(and 2 more\)$/);
    const ok = await admin.request('POST', '/v1/test/echo', { body: JSON.stringify({ targets: [] }), headers: json });
    expect([ok.status, ok.json]).toEqual([200, { targets: [] }]);
  });

  it('a thrown ApiProblem is rendered as its kind; an unexpected error is a generic 500, logged with its stack', async () => {
    expectProblem(await admin.get('/v1/test/conflict'), 409, 'conflict');
    const r = await admin.get('/v1/test/broken');
    expectProblem(r, 500, 'internal');
    expect(r.text).not.toContain('secret internals');
    const logged = cap.messages('admin request failed');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 50, url: '/v1/test/broken', err: { message: 'secret internals at /var/lib/x' } });
    expect(String((logged[0]!.err as { stack: string }).stack)).toMatch(/problems\.ts/);
  });
});
