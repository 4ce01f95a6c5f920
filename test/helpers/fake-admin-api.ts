/**
 * A stand-in for the admin REST API on 127.0.0.1 (a real HTTP server on a real socket) that
 * records every request the CLI makes and answers what a test told it to, problem+json included.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface RecordedRequest {
  method: string;
  /** The path as sent (still URL-encoded), query included. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The JSON body, parsed; undefined when none was sent. */
  body: unknown;
}

export interface Answer {
  status: number;
  body?: unknown;
  etag?: string;
  contentType?: string;
}

type Route = Answer | ((req: RecordedRequest) => Answer);

export class FakeAdminApi {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, Route>();
  private server!: Server;
  url = '';

  /** Answer `METHOD /raw/path[?query]` (exactly as sent on the wire). */
  on(method: string, url: string, answer: Route): this {
    this.routes.set(`${method} ${url}`, answer);
    return this;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        const rec: RecordedRequest = { method: req.method!, url: req.url!, headers: req.headers, body: raw === '' ? undefined : (JSON.parse(raw) as unknown) };
        this.requests.push(rec);
        const route = this.routes.get(`${rec.method} ${rec.url}`);
        const a: Answer = route === undefined ? problem(404, 'not-found', 'Not Found', `no route ${rec.method} ${rec.url}`) : typeof route === 'function' ? route(rec) : route;
        const headers: Record<string, string> = {};
        if (a.etag !== undefined) headers.etag = a.etag;
        if (a.body !== undefined) headers['content-type'] = a.contentType ?? (a.status >= 400 ? 'application/problem+json' : 'application/json');
        res.writeHead(a.status, headers);
        res.end(a.body === undefined ? undefined : typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A problem+json answer as the contract describes it. */
export function problem(status: number, type: string, title: string, detail?: string, extra: Record<string, unknown> = {}): Answer {
  return { status, body: { type: `https://scatter.dev/problems/${type}`, title, status, ...(detail ? { detail } : {}), ...extra } };
}
