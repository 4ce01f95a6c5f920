/**
 * The admin HTTP app: GET /healthz and /metrics (open), and the /v1 API (bearer token), whose routes
 * come from route modules. A route module is a function `(app, deps) => void` that declares its
 * routes on `app` (already under /v1, zod schemas, problem+json errors, in the OpenAPI document).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { ControlPlane } from '../control/control-plane.js';
import type { Config } from '../config/schema.js';
import type { IscsiServer } from '../iscsi/iscsi-server.js';
import type { LiveLuns } from '../runtime/live-luns.js';
import type { LunRegistry } from '../runtime/lun-registry.js';
import { installBearerAuth } from './auth.js';
import { AuthFailureLimiter, type AuthLimiterOptions } from './auth-limiter.js';
import { installProblemHandlers } from './error-handler.js';
import { registerOpenApi } from './openapi.js';
import type { ClusterAdmin } from './routes/cluster.js';
import { zodValidatorCompiler } from './validation.js';

/** The fastify instance a route module gets: typed by its zod schemas. */
export type ZodFastifyInstance = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/** What route modules may reach: the running target's parts (admin sits above runtime and iscsi). */
export interface AdminDeps {
  readonly iscsi: IscsiServer;
  readonly lunRegistry: LunRegistry;
  readonly luns: LiveLuns;
  /** The config the target started from. */
  readonly config: Config;
  /** The running model and the one way to change it (every write route goes through it). */
  readonly control: ControlPlane;
  /** The target's logger: route modules log API writes here (never request bodies). */
  readonly log: Logger;
  /** Cluster mode only (routes/cluster.ts). */
  readonly cluster?: ClusterAdmin;
}

/** A route module: declares its routes on `app` (prefix /v1 already applied). */
export type AdminRoutes = (app: ZodFastifyInstance, deps: AdminDeps) => void | Promise<void>;

export interface AdminAppOptions {
  readonly deps: AdminDeps;
  readonly metrics: Registry;
  /** The bearer token every route but /healthz, /metrics and the docs page needs. */
  readonly token: string;
  readonly routes: readonly AdminRoutes[];
  /** Failed-authentication limits (tests shorten them). */
  readonly authLimits?: AuthLimiterOptions;
  /** Largest request body (default 1 MiB). */
  readonly bodyLimit?: number;
  /** Shown in the OpenAPI document. */
  readonly version?: string;
}

export async function buildAdminApp(opts: AdminAppOptions): Promise<ZodFastifyInstance> {
  // Requests are not logged: a scrape every few seconds would drown the target's own log; route
  // modules log the writes themselves.
  const app = Fastify({ logger: false, bodyLimit: opts.bodyLimit ?? 1024 * 1024 }).withTypeProvider<ZodTypeProvider>();
  // PATCH bodies are JSON merge patches (RFC 7396), sent as such or as plain JSON.
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app, opts.deps.log);
  installBearerAuth(app, opts.token, new AuthFailureLimiter(opts.authLimits));
  await registerOpenApi(app, opts.version ?? '0.1.0');

  app.get('/metrics', { schema: { security: [], tags: ['health'], summary: 'Prometheus metrics (text exposition format)' } }, async (_req, reply) => {
    const text = await opts.metrics.metrics();
    return reply.type(opts.metrics.contentType).send(text);
  });
  app.get(
    '/healthz',
    {
      schema: {
        security: [],
        tags: ['health'],
        summary: 'Liveness (in cluster mode also the lease: fenced or lost means this node serves nothing it owns)',
        response: { 200: z.object({ status: z.literal('ok'), cluster: z.object({ nodeId: z.string(), lease: z.string() }).optional() }) },
      },
    },
    async () => ({ status: 'ok' as const, ...(opts.deps.cluster && { cluster: opts.deps.cluster.health() }) }),
  );
  await app.register(
    async (v1) => {
      const typed = v1.withTypeProvider<ZodTypeProvider>();
      for (const routes of opts.routes) await routes(typed, opts.deps);
    },
    { prefix: '/v1' },
  );
  return app;
}
