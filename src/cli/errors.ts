/** How `scatter` exits (documented in `scatter --help`), and the error that means "you typed it wrong". */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  preconditionFailed: 5,
  unauthorized: 6,
} as const;

/** Bad arguments found after parsing (a size that does not parse, a missing file): exit 2. */
export class UsageError extends Error {}

/** Exit code for an API error status. */
export function exitForStatus(status: number): number {
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 412) return EXIT.preconditionFailed;
  if (status === 401 || status === 403 || status === 429) return EXIT.unauthorized;
  return EXIT.failure;
}

export const EXIT_HELP = `Exit status:
  0  success
  1  server error (5xx, other statuses) or the API could not be reached
  2  usage error (bad or missing arguments, unreadable --config / token / secret file)
  3  not found (404)
  4  conflict (409: in use, immutable field, refused shrink, failed apply undone)
  5  precondition failed (412: --if-match stale, or create of something that exists)
  6  unauthorized, forbidden or rate-limited (401, 403, 429)`;
