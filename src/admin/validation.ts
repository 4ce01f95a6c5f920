/**
 * Request validation with the routes' zod schemas. Ours rather than the type provider's so that a
 * failure keeps zod's own path (`targets[0].luns[1].lun`, not `/targets/0/luns/1/lun`) and comes
 * out as a `validation` problem naming the request part, the field and the rule.
 */
import type { FastifySchemaCompiler } from 'fastify';
import { core, type ZodType } from 'zod';
import { ApiProblem, type ProblemFieldError } from './problem.js';

/** `body.targets[0].lun`, `params.id`, or just `body` for the whole part. */
export function issuePath(part: string, path: readonly PropertyKey[]): string {
  if (path.length === 0) return part;
  const dotted = core.toDotPath(path as PropertyKey[]);
  return dotted.startsWith('[') ? `${part}${dotted}` : `${part}.${dotted}`;
}

export function fieldErrors(part: string, issues: readonly core.$ZodIssue[]): ProblemFieldError[] {
  return issues.map((i) => ({ path: issuePath(part, i.path), rule: i.code, message: i.message }));
}

export const zodValidatorCompiler: FastifySchemaCompiler<ZodType> = ({ schema, httpPart }) => {
  const part = httpPart === 'querystring' ? 'query' : (httpPart ?? 'body');
  return (data: unknown) => {
    const r = schema.safeParse(data);
    if (r.success) return { value: r.data };
    const errors = fieldErrors(part, r.error.issues);
    const first = errors[0]!;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    return { error: new ApiProblem('validation', `${first.path}: ${first.message}${more}`, { errors }) };
  };
};
