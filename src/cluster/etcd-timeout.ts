/**
 * etcd3 retries a call for a long time while etcd does not answer (a frozen member, a partition).
 * Cluster code must not hang a SCSI command or an admin request on that: every call it waits for
 * goes through withTimeout and fails with an error that names etcd.
 */
import { ScatterError } from '../shared/errors.js';

/** etcd did not answer in time (`timedOut`), or failed the call. */
export class EtcdUnavailableError extends ScatterError<'ETCD_UNAVAILABLE'> {
  readonly timedOut: boolean;

  constructor(message: string, options?: ErrorOptions & { timedOut?: boolean }) {
    super('ETCD_UNAVAILABLE', message, options);
    this.name = 'EtcdUnavailableError';
    this.timedOut = options?.timedOut ?? false;
  }
}

/** How long a call abandoned after its timeout may go on in the background. */
const ABANDON_AFTER_MS = 30_000;

/**
 * The gRPC deadline of a call withTimeout bounds: far beyond the timeout, only to end a call
 * nothing waits for any more. A deadline that expires is a failure to etcd3, and three in a row
 * trip its circuit breaker, which then refuses every call of the client (the lease's too) for 5 s.
 */
export function abandonDeadline(timeoutMs: number): Date {
  return new Date(Date.now() + Math.max(ABANDON_AFTER_MS, 10 * timeoutMs));
}

/**
 * `call`, or an EtcdUnavailableError after `ms`; its own failure becomes one too. `what` names
 * the call and etcd ("etcd: reading …"); `lateNote` is added to the timeout's message (a write
 * may still land). A late answer or failure is dropped: nothing waits for it.
 */
export function withTimeout<T>(call: Promise<T>, ms: number, what: string, lateNote = ''): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new EtcdUnavailableError(`${what}: no answer within ${ms} ms (etcd unreachable or too slow)${lateNote}`, { timedOut: true })),
      ms,
    );
    call.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (err instanceof EtcdUnavailableError) reject(err);
        else reject(new EtcdUnavailableError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      },
    );
  });
}
