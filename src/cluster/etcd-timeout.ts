/**
 * etcd3 retries a call for a long time while etcd does not answer (a frozen member, a partition).
 * Cluster code must not hang a SCSI command or an admin request on that: every call it waits for
 * goes through withTimeout and fails with an error that names etcd.
 */
import { ScatterError } from '../shared/errors.js';

/** etcd did not answer in time, or failed the call. */
export class EtcdUnavailableError extends ScatterError<'ETCD_UNAVAILABLE'> {
  constructor(message: string, options?: ErrorOptions) {
    super('ETCD_UNAVAILABLE', message, options);
    this.name = 'EtcdUnavailableError';
  }
}

/** `call`, or an EtcdUnavailableError after `ms`; its own failure becomes one too, naming `what`. A late answer is dropped. */
export function withTimeout<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new EtcdUnavailableError(`etcd did not answer ${what} within ${ms} ms`)), ms);
    call.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (err instanceof EtcdUnavailableError) reject(err);
        else reject(new EtcdUnavailableError(`etcd failed ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      },
    );
  });
}
