import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { buildAdminApp, type AdminDeps, type AdminRoutes } from './app.js';
import type { AuthLimiterOptions } from './auth-limiter.js';
import { ADMIN_ROUTES } from './routes/index.js';
import { loadOrCreateAdminToken } from './token.js';

export interface AdminListenerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** The /v1 bearer token's file (made 0600 when missing). */
  readonly tokenFile: string;
  readonly authLimits?: AuthLimiterOptions;
  /** The /v1 route modules (default: every module of routes/index.ts). */
  readonly routes?: readonly AdminRoutes[];
}

/** The HTTP admin plane: Prometheus exposition, a liveness probe and the /v1 API. */
export interface AdminListener {
  /** The port actually bound. */
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminListener(opts: AdminListenerOptions, deps: AdminDeps, registry: Registry): Promise<AdminListener> {
  const log: Logger = deps.log;
  const token = await loadOrCreateAdminToken(opts.tokenFile, log);
  const app = await buildAdminApp({ deps, metrics: registry, token, routes: opts.routes ?? ADMIN_ROUTES, authLimits: opts.authLimits });
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await app.close();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`admin listener ${opts.host}:${opts.port}: ${why} (set admin.port, or admin.enabled: false)`, { cause: err });
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log.info({ host: opts.host, port, tokenFile: opts.tokenFile }, 'admin listening (GET /metrics, /healthz; /v1 API with bearer token, docs at /v1/docs)');
  return { port, close: () => app.close() };
}
