/**
 * The one way tests wait: for an event, bounded; never for a guessed stretch of time.
 */

export interface WaitOptions {
  /** Give up (and fail naming what was awaited) after this long. Default 10 s. */
  timeoutMs?: number;
  /** How often a condition that cannot notify us is checked. Default 5 ms. */
  pollMs?: number;
}

/**
 * Wait until `cond` holds: a state the code under test makes true (a budget drained, a log line
 * written, a counter reached). `cond` may be async, e.g. when asking the target over a socket, and
 * may throw to fail at once (a process that exited, a connection that closed). Fails with `what`
 * after the timeout. `what` may be a function, for a message built only on failure.
 */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string | (() => string),
  opts: number | WaitOptions = {},
): Promise<void> {
  const { timeoutMs = 10_000, pollMs = 5 } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** `promise`, or a failure naming `what` if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
