import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface AdminListenerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
}

/** The HTTP admin plane: Prometheus exposition and a liveness probe. */
export interface AdminListener {
  /** The port actually bound. */
  readonly port: number;
  close(): Promise<void>;
}

export function buildAdminApp(registry: Registry): FastifyInstance {
  // Requests are not logged: a scrape every few seconds would drown the target's own log.
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}

export async function startAdminListener(opts: AdminListenerOptions, registry: Registry, log: Logger): Promise<AdminListener> {
  const app = buildAdminApp(registry);
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await app.close();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`admin listener ${opts.host}:${opts.port}: ${why} (set admin.port, or admin.enabled: false)`, { cause: err });
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log.info({ host: opts.host, port }, 'admin listening (GET /metrics, /healthz)');
  return { port, close: () => app.close() };
}
