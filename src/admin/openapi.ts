/**
 * The OpenAPI 3 document, generated from the routes' own zod schemas (@fastify/swagger collects the
 * routes, fastify-type-provider-zod turns each schema into JSON Schema), served at
 * GET /v1/openapi.json, and a Swagger UI page at /v1/docs. The page and its static files are open
 * (they are the public Swagger UI bundle and say nothing about this target); the document needs the
 * token, which the page asks for once and keeps in the tab's sessionStorage.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

export const OPENAPI_PATH = '/v1/openapi.json';
export const DOCS_PREFIX = '/v1/docs';

export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Scatter admin API',
        version,
        description: 'Live state and configuration of a Scatter iSCSI target. Errors are application/problem+json (docs/admin.md).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: createJsonSchemaTransform({ skipList: [OPENAPI_PATH] }),
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { requestInterceptor: addStoredToken, persistAuthorization: false },
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, () => app.swagger());
}

/**
 * Runs in the browser (serialized into the page by @fastify/swagger-ui): asks for the token once per
 * tab and sends it with every request the page makes, the document's own included.
 */
function addStoredToken<R extends Record<string, unknown>>(request: R): R {
  const page = globalThis as unknown as {
    sessionStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void };
    prompt(message: string): string | null;
  };
  let token = page.sessionStorage.getItem('scatter-admin-token');
  if (!token) {
    token = page.prompt('Scatter admin token (the admin.tokenFile, by default <stateDir>/admin-token)');
    if (token) page.sessionStorage.setItem('scatter-admin-token', token);
  }
  // Swagger UI's request is a plain object whose headers are a record.
  if (token) (request as unknown as { headers: Record<string, string> }).headers.Authorization = `Bearer ${token}`;
  return request;
}
