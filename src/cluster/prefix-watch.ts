/** Read every key under a prefix, then follow it from the revision read: no change falls between. */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { withTimeout } from './etcd-timeout.js';

export async function readAndWatch(client: Etcd3, prefix: string, timeoutMs: number, what: string): Promise<{ kvs: IKeyValue[]; watcher: Watcher }> {
  const res = await withTimeout(client.getAll().prefix(prefix).exec(), timeoutMs, `etcd: reading ${what}`);
  const next = (BigInt(res.header.revision) + 1n).toString();
  const watcher = await withTimeout(client.watch().prefix(prefix).startRevision(next).create(), timeoutMs, `etcd: watching ${what}`);
  return { kvs: res.kvs, watcher };
}
