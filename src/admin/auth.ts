/**
 * Bearer-token check for every admin route except the open ones (liveness, metrics, the docs page's
 * static files). It runs on onRequest, before any body is read, and compares SHA-256 digests in
 * constant time so neither the token's length nor its prefix leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthFailureLimiter } from './auth-limiter.js';
import { ApiProblem } from './problem.js';

/** Routes answered without a token: the probes, and the docs page's own files (not the API document). */
export function isOpenRoute(method: string, routeUrl: string | undefined): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (routeUrl === '/healthz' || routeUrl === '/metrics') return true;
  if (routeUrl === '/v1/docs/json' || routeUrl === '/v1/docs/yaml') return false;
  return routeUrl === '/v1/docs' || routeUrl?.startsWith('/v1/docs/') === true;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function installBearerAuth(app: FastifyInstance, token: string, limiter: AuthFailureLimiter): void {
  const expected = digest(token);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (isOpenRoute(req.method, req.routeOptions.url)) return;
    const address = req.socket.remoteAddress ?? '';
    const retryAfter = limiter.retryAfter(address);
    if (retryAfter > 0) {
      throw new ApiProblem('rate-limited', `too many failed authentications from this address; retry in ${retryAfter} s`, {
        headers: { 'retry-after': String(retryAfter) },
      });
    }
    const presented = bearerToken(req.headers.authorization);
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return;
    limiter.recordFailure(address);
    throw new ApiProblem('unauthorized', presented === undefined ? 'send Authorization: Bearer <token> (docs/admin.md)' : 'the bearer token is not valid', {
      headers: { 'www-authenticate': 'Bearer realm="scatter-admin"' },
    });
  });
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}
