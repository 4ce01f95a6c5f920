/**
 * One renderer for every error the admin listener answers: route problems, request validation,
 * fastify's own refusals (unknown route, bad JSON, wrong content type, body too large) and the
 * unexpected, all as application/problem+json. A stack never leaves the process: an unexpected
 * error is logged with it and answered with a generic 500.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isResponseSerializationError } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { ApiProblem, PROBLEM_CONTENT_TYPE, type ProblemFieldError } from './problem.js';

/** What fastify itself refuses, by its error code. */
function fastifyProblem(err: FastifyError): ApiProblem | undefined {
  if (err.validation) {
    // A route with a plain JSON schema instead of zod: keep the field and the keyword.
    const errors: ProblemFieldError[] = err.validation.map((v) => ({
      path: `${err.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`,
      rule: v.keyword,
      message: v.message ?? v.keyword,
    }));
    return new ApiProblem('validation', err.message, { errors });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiProblem('unsupported-media-type', 'send the body as application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiProblem('payload-too-large', err.message);
  }
  const status = err.statusCode ?? 500;
  if (status === 404) return new ApiProblem('not-found', err.message);
  if (status >= 400 && status < 500) return new ApiProblem('malformed', err.message);
  return undefined;
}

export function sendProblem(reply: FastifyReply, req: FastifyRequest, problem: ApiProblem): FastifyReply {
  const path = req.url.split('?', 1)[0];
  return reply.code(problem.status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body(path));
}

export function installProblemHandlers(app: FastifyInstance, log: Logger): void {
  app.setNotFoundHandler((req, reply) => sendProblem(reply, req, new ApiProblem('not-found', `no route ${req.method} ${req.url.split('?', 1)[0]}`)));
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let problem: ApiProblem | undefined;
    if (err instanceof ApiProblem) problem = err;
    else if (!isResponseSerializationError(err)) problem = fastifyProblem(err);
    if (problem === undefined || problem.kind === 'internal') {
      log.error({ err, method: req.method, url: req.routeOptions.url ?? req.url.split('?', 1)[0] }, 'admin request failed');
      problem = new ApiProblem('internal', 'internal error answering the request (the target log has the details)');
    }
    return sendProblem(reply, req, problem);
  });
}
