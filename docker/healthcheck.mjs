/* global fetch, AbortSignal */
// The image's HEALTHCHECK: GET /healthz on the admin listener, found as the `scatter` CLI finds it
// ($SCATTER_ADMIN, else the config file's admin.host/port). node:20-bookworm-slim has no curl.
// Exit 0 healthy, 1 not (Docker's contract). Run from /app (the image's WORKDIR) after the build.
import { adminUrl } from '../dist/cli/connection.js';

let url;
try {
  url = `${adminUrl({})}/healthz`;
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  process.exit(0);
} catch (err) {
  console.error(`healthcheck ${url ?? '(no URL)'}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
