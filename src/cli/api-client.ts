/**
 * A small client for the admin REST API (/v1, docs in README "Administration"): JSON in and
 * out, the bearer token on every request, problem+json answers turned into ApiError.
 */

/** One entry of a problem's `errors[]` (validation failures name the field). */
export interface ProblemEntry {
  path?: string;
  rule?: string;
  message?: string;
}

/** An RFC 9457 problem document as the API sends it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  step?: string;
  errors?: ProblemEntry[];
}

/** The API answered with an error status; `problem` is its body (or a stand-in if it sent none). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.title ?? `HTTP ${status}`);
  }
}

/** The API could not be reached, or did not answer in time, or answered something that is not JSON. */
export class ConnectionError extends Error {}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  /** PATCH bodies are JSON merge patches (RFC 7396). */
  mergePatch?: boolean;
}

export interface ApiResponse {
  status: number;
  etag: string | undefined;
  body: unknown;
}

/** `/v1/targets/iqn...:x/luns/0`: every segment URL-encoded (IQNs hold ':', portals '[', ']'). */
export function apiPath(...segments: (string | number)[]): string {
  return `/v1/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
    private readonly timeoutMs = 30_000,
  ) {}

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (opts.ifMatch !== undefined) headers['if-match'] = quoteEtag(opts.ifMatch);
    if (opts.ifNoneMatch !== undefined) headers['if-none-match'] = opts.ifNoneMatch;
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['content-type'] = opts.mergePatch ? 'application/merge-patch+json' : 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new ConnectionError(`cannot reach the admin API at ${this.baseUrl}: ${describeFetchError(err)}`);
    }
    const text = await res.text();
    let body: unknown = undefined;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        if (res.ok) throw new ConnectionError(`${method} ${url.pathname}: the answer (HTTP ${res.status}) is not JSON`);
        body = undefined;
      }
    }
    if (!res.ok) throw new ApiError(res.status, asProblem(body, res.status, text));
    return { status: res.status, etag: res.headers.get('etag') ?? undefined, body };
  }
}

/** ETags travel quoted; accept `7` as well as `"7"` from the user. */
function quoteEtag(tag: string): string {
  return tag === '*' || tag.startsWith('"') || tag.startsWith('W/') ? tag : `"${tag}"`;
}

function asProblem(body: unknown, status: number, text: string): Problem {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Problem;
  // Not problem+json (a proxy, an old server): keep a short excerpt so the user sees something.
  const excerpt = text.trim().slice(0, 200);
  return { status, title: `HTTP ${status}`, ...(excerpt ? { detail: excerpt } : {}) };
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'no answer in time';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return cause.code;
    if (cause?.message) return cause.message;
    return err.message;
  }
  return String(err);
}
