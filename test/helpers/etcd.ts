/**
 * A private single-member etcd for one test file: its own ports and data dir, never the system's
 * 2379 (docs/cluster.md; flags verified in the cluster research notes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, missingTools } from './tools.js';
import { waitUntil } from './wait.js';

const INSTALL = 'apt-get install etcd-server etcd-client';

/** [] when etcd and etcdctl are there; under CI a missing one throws, elsewhere the caller skips. */
export function missingEtcd(): string[] {
  return missingTools(['etcd', 'etcdctl'], INSTALL);
}

export interface TestEtcd {
  /** `http://127.0.0.1:<client port>` */
  endpoint: string;
  etcdctl: string;
  /** SIGSTOP: etcd stops answering (its connections stay open), as if unreachable. */
  freeze(): void;
  thaw(): void;
  /** SIGTERM, wait for the exit, remove the data dir. Safe to call again. */
  stop(): Promise<void>;
}

/** A port the kernel just handed out; etcd may still lose it to someone else, so start() retries. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/**
 * Whether the etcd answering at `endpoint` is the member named `name`: two tests may be handed the
 * same free port, and then the health check would answer from the other test's etcd.
 */
async function isMember(endpoint: string, name: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/v3/cluster/member/list`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { members?: { name?: string }[] };
    return res.ok && (body.members ?? []).some((m) => m.name === name);
  } catch {
    return false;
  }
}

async function startOnce(): Promise<TestEtcd | 'port-taken'> {
  const etcd = findTool('etcd');
  const etcdctl = findTool('etcdctl');
  if (!etcd || !etcdctl) throw new Error(`etcd and etcdctl are needed (${INSTALL})`);
  const [client, peer] = [await freePort(), await freePort()];
  const dir = await mkdtemp(join(tmpdir(), 'scatter-etcd-'));
  const endpoint = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const name = `s${process.pid}-${client}`;
  // prettier-ignore
  const args = [
    '--name', name, '--data-dir', dir,
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `${name}=${peerUrl}`, '--initial-cluster-state', 'new', '--initial-cluster-token', 'scatter-test',
    '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
    '--unsafe-no-fsync', // throwaway data
  ];
  const proc: ChildProcess = spawn(etcd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitUntil(
      async () => {
        if (gone) throw new Error(`etcd exited while starting: ${stderr}`);
        return (await healthy(endpoint)) && (await isMember(endpoint, name)) && !gone;
      },
      () => `etcd at ${endpoint} is healthy (stderr: ${stderr})`,
      { timeoutMs: 20_000, pollMs: 50 },
    );
  } catch (err) {
    if (!gone) {
      proc.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
    if (/address already in use/.test(stderr)) return 'port-taken';
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    etcdctl,
    freeze: () => void proc.kill('SIGSTOP'),
    thaw: () => void proc.kill('SIGCONT'),
    stop: () =>
      (stopping ??= (async () => {
        if (!gone) {
          proc.kill('SIGCONT'); // a frozen etcd would never act on the SIGTERM
          proc.kill('SIGTERM');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}

export async function startEtcd(): Promise<TestEtcd> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const etcd = await startOnce();
    if (etcd !== 'port-taken') return etcd;
  }
  throw new Error('etcd: five port picks in a row were taken by someone else');
}
