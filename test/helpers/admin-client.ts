/**
 * HTTP client for the admin API in tests: real requests to a started target's admin listener. Every
 * request that reached a route (not refused by authentication, not an unknown path) is recorded in
 * ADMIN_ROUTES_HIT, so test/integration/admin-api.test.ts can check that every operation of the
 * OpenAPI document was exercised by some test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestTarget } from './target.js';

export interface AdminResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: Record<string, unknown> | undefined;
}

/** "METHOD /concrete/path" of every request that reached a route. */
export const ADMIN_ROUTES_HIT = new Set<string>();

export interface RequestOptions {
  /** Override the bearer token; null sends none. */
  token?: string | null;
  body?: string;
  headers?: Record<string, string>;
}

export class AdminClient {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  /** A client for `t`, with the token the target wrote to `<stateDir>/admin-token`. */
  static of(t: TestTarget): AdminClient {
    return new AdminClient(`http://127.0.0.1:${t.scatter.adminPort}`, readFileSync(join(t.config.stateDir, 'admin-token'), 'utf8').trim());
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<AdminResponse> {
    const token = opts.token === undefined ? this.token : opts.token;
    const headers: Record<string, string> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...opts.headers };
    const r = await fetch(this.base + path, { method, headers, body: opts.body });
    const text = await r.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    const refused = r.status === 401 || r.status === 429 || (r.status === 404 && String(json?.detail).startsWith('no route'));
    if (!refused) ADMIN_ROUTES_HIT.add(`${method} ${path.split('?', 1)[0]}`);
    return { status: r.status, headers: r.headers, text, json };
  }

  get(path: string, opts?: RequestOptions): Promise<AdminResponse> {
    return this.request('GET', path, opts);
  }

  delete(path: string, opts?: RequestOptions): Promise<AdminResponse> {
    return this.request('DELETE', path, opts);
  }
}
