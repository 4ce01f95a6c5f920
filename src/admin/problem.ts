/**
 * RFC 9457 problem details: every error of the admin API is one of these kinds, each with a stable
 * `type` URI that a client may switch on (the title and detail are for people and may change).
 */
import { z } from 'zod';
import { ScatterError, type ErrorCode } from '../shared/errors.js';

export const PROBLEM_TYPE_BASE = 'https://scatter.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const PROBLEMS = {
  validation: { status: 400, title: 'The request does not validate', code: 'API_VALIDATION' },
  malformed: { status: 400, title: 'The request cannot be parsed', code: 'API_MALFORMED' },
  unauthorized: { status: 401, title: 'A valid bearer token is required', code: 'API_UNAUTHORIZED' },
  'not-found': { status: 404, title: 'Not found', code: 'API_NOT_FOUND' },
  conflict: { status: 409, title: 'Conflict with the current state', code: 'API_CONFLICT' },
  'precondition-failed': { status: 412, title: 'Precondition failed', code: 'API_PRECONDITION_FAILED' },
  refused: { status: 409, title: 'The change would lose data and is refused', code: 'API_REFUSED' },
  'apply-failed': { status: 409, title: 'A step of the change failed; the change was undone', code: 'API_APPLY_FAILED' },
  'config-file-changed': { status: 409, title: 'The config file was edited on disk; reload it first', code: 'API_CONFIG_FILE_CHANGED' },
  'cluster-unavailable': { status: 503, title: 'etcd cannot be reached; nothing was changed', code: 'API_CLUSTER_UNAVAILABLE' },
  'persist-failed': { status: 500, title: 'The change could not be written; it was undone', code: 'API_PERSIST_FAILED' },
  'payload-too-large': { status: 413, title: 'Request body too large', code: 'API_PAYLOAD_TOO_LARGE' },
  'unsupported-media-type': { status: 415, title: 'Unsupported content type', code: 'API_UNSUPPORTED_MEDIA_TYPE' },
  'rate-limited': { status: 429, title: 'Too many failed authentications', code: 'API_RATE_LIMITED' },
  internal: { status: 500, title: 'Internal error', code: 'API_INTERNAL' },
} as const satisfies Record<string, { status: number; title: string; code: ErrorCode }>;

export type ProblemKind = keyof typeof PROBLEMS;
type ProblemCode = (typeof PROBLEMS)[ProblemKind]['code'];

/** One field that failed validation: `targets[0].luns[1].lun`, the zod issue code, its message. */
export const ProblemFieldErrorSchema = z.object({
  path: z.string().describe('where in the request part: `body.targets[0].lun`, `params.id`'),
  rule: z.string().describe('the rule that failed (zod issue code: invalid_type, too_big, ...)'),
  message: z.string(),
});
export type ProblemFieldError = z.infer<typeof ProblemFieldErrorSchema>;

export const ProblemSchema = z
  .object({
    type: z.string().describe(`stable cause: ${PROBLEM_TYPE_BASE}<kind>`),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional().describe('the request path'),
    errors: z.array(ProblemFieldErrorSchema).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' });
export type ProblemBody = z.infer<typeof ProblemSchema>;

export interface ApiProblemOptions {
  readonly errors?: readonly ProblemFieldError[];
  /** Extra response headers (Retry-After on rate-limited). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/** What a route handler throws for an expected failure; the error handler renders it as problem+json. */
export class ApiProblem extends ScatterError<ProblemCode> {
  readonly errors: readonly ProblemFieldError[] | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** fastify reads (and may write) this when the problem comes back from a validator: a plain field. */
  statusCode: number;

  constructor(
    readonly kind: ProblemKind,
    /** Said to the client: what was wrong with this request. Never secrets, never a stack. */
    readonly detail: string,
    opts: ApiProblemOptions = {},
  ) {
    super(PROBLEMS[kind].code, detail, { cause: opts.cause });
    this.errors = opts.errors;
    this.headers = opts.headers ?? {};
    this.statusCode = PROBLEMS[kind].status;
  }

  get status(): number {
    return PROBLEMS[this.kind].status;
  }


  get type(): string {
    return problemType(this.kind);
  }

  body(instance?: string): ProblemBody {
    return {
      type: this.type,
      title: PROBLEMS[this.kind].title,
      status: this.status,
      detail: this.detail,
      ...(instance === undefined ? {} : { instance }),
      ...(this.errors === undefined ? {} : { errors: [...this.errors] }),
    };
  }
}

export function problemType(kind: ProblemKind): string {
  return PROBLEM_TYPE_BASE + kind;
}

/** How a route declares the problems it may answer (for the OpenAPI document and the serializer). */
export interface ProblemResponse {
  readonly description: string;
  readonly content: { readonly [PROBLEM_CONTENT_TYPE]: { readonly schema: typeof ProblemSchema } };
}

/**
 * Response schemas for a route's problems: 400, 401, 429 and 500 (every /v1 route may answer those)
 * plus `statuses`. Spread it into `schema.response`.
 */
export function problemResponses(...statuses: number[]): Record<number, ProblemResponse> {
  const out: Record<number, ProblemResponse> = {};
  for (const status of [400, 401, 429, 500, ...statuses]) {
    const kinds = Object.entries(PROBLEMS)
      .filter(([, p]) => p.status === status)
      .map(([kind]) => kind);
    out[status] = { description: `problem: ${kinds.join(' or ')}`, content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } };
  }
  return out;
}
