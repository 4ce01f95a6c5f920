/// <reference types="vite/client" />
/**
 * The admin REST API over real HTTP. Each file in admin-api/ tests some routes through AdminClient
 * (test/helpers/admin-client.ts), which records every request that reached a route; they all run
 * here, in this one file, so the last test can check that every operation of the OpenAPI document
 * was exercised. A new route module's tests go in admin-api/ and are picked up by the glob.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ROUTES_HIT, AdminClient } from '../helpers/admin-client.js';
import { startTestTarget, type TestTarget } from '../helpers/target.js';

const modules = import.meta.glob('./admin-api/*.ts', { eager: true });

describe('admin API OpenAPI document', () => {
  let t: TestTarget;
  let doc: { openapi: string; paths: Record<string, Record<string, unknown>> };
  beforeAll(async () => {
    t = await startTestTarget();
    const r = await AdminClient.of(t).get('/v1/openapi.json');
    expect(r.status).toBe(200);
    doc = r.json as typeof doc;
  });
  afterAll(() => t.stop());

  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/sessions', '/v1/sessions/{id}', '/v1/logins', '/healthz', '/metrics']));
  });

  it('is the same document at /v1/docs/json (what the docs page shows)', async () => {
    const r = await AdminClient.of(t).get('/v1/docs/json');
    expect(r.json).toEqual(doc);
  });

  it('every operation in it was exercised by some test in admin-api/', () => {
    expect(Object.keys(modules).length).toBeGreaterThanOrEqual(4);
    const hits = [...ADMIN_ROUTES_HIT];
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`);
      for (const method of Object.keys(ops)) {
        if (!['get', 'put', 'post', 'patch', 'delete'].includes(method)) continue;
        const m = method.toUpperCase();
        if (!hits.some((h) => h.startsWith(`${m} `) && pattern.test(h.slice(m.length + 1)))) missing.push(`${m} ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
