// npm run build && npx vite-node test/bench/cluster-failover.ts [-- --runs 5]
// Issue 14's cluster numbers (docs/benchmarks.md): per run a private etcd and two `scatter serve`
// processes (nodes a and b: leaseTtlSeconds 2, graceMs 500, nonOwnerState standby) over one 64 MiB
// file LU, and an initiator that behaves like dm-multipath: one session per node, 4 KiB writes with
// sequence numbers at QD1 through the path in use; on NOT READY (02h/04h/xx), a UNIT ATTENTION or a
// dead connection it retries at once on the other path (on the same one when the other is dead).
// - drain stall: POST /v1/cluster/drain a -> b while writing; the longest gap between acknowledged
//   writes from the last one before the request to the 500th after the API answered; and the API's ms;
// - failover stall: kill -9 of the owner (b) while writing; last ack before the kill -> first ack after;
//   then every block's last acknowledged write is read back through the survivor (mismatches: must be 0);
// - PR OUT latency: 200 REGISTER / unregister pairs through the owner, per command, cluster mode vs a
//   single node (no cluster section) on its own file.
// Needs etcd and etcdctl (apt-get install etcd-server etcd-client). Real sockets only; waits poll.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { read10, senseCodes, testUnitReady, write10 } from '../helpers/cdb.js';
import { missingEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { TestInitiator } from '../helpers/initiator.js';
import { prOutCdb, prOutParams, SA } from '../helpers/pr.js';
import { waitUntil } from '../helpers/wait.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { runs: { type: 'string', default: '5' }, 'pr-pairs': { type: 'string', default: '200' } },
});
const RUNS = Number(values.runs);
const PR_PAIRS = Number(values['pr-pairs']);
const CLI = join(process.cwd(), 'dist/cli/main.js');
const IQN = 'iqn.2026-12.io.scatter:bench-failover';
const GOOD = 0;
const CHECK_CONDITION = 2;
const IO = 4096;
const SIZE = 64 * 1024 * 1024;
const TTL_S = 2;
const GRACE_MS = 500;
/** Acknowledged writes before the drain request and before the kill (steady state first). */
const WARMUP = 2000;
/** Acknowledged writes after the drain answered / after the takeover, before the writer stops. */
const AFTER = 500;

if (missingEtcd().length > 0) throw new Error('etcd and etcdctl are needed (apt-get install etcd-server etcd-client)');
if (!existsSync(CLI)) throw new Error('dist/cli/main.js missing: run `npm run build`');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------ nodes

interface Node {
  id: string;
  port: number;
  adminPort: number;
  stateDir: string;
  config: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  output: string;
}

const children = new Set<ChildProcess>();

async function makeNode(dir: string, id: string, file: string, cluster?: { name: string; portGroup: number; etcd: string }): Promise<Node> {
  const n: Node = { id, port: await freePort(), adminPort: await freePort(), stateDir: join(dir, `state-${id}`), config: join(dir, `${id}.yaml`), output: '' };
  const config = {
    logLevel: 'warn',
    stateDir: n.stateDir,
    iscsi: { portals: [{ host: '127.0.0.1', port: n.port }], nopInInterval: 0 },
    admin: { host: '127.0.0.1', port: n.adminPort },
    targets: [{ iqn: IQN, luns: [{ lun: 0, backstore: { type: 'file', path: file, size: '64MiB' } }] }],
    ...(cluster
      ? {
          cluster: {
            name: cluster.name,
            nodeId: id,
            portGroup: cluster.portGroup,
            etcd: { endpoints: [cluster.etcd] },
            leaseTtlSeconds: TTL_S,
            graceMs: GRACE_MS,
            nonOwnerState: 'standby',
          },
        }
      : {}),
  };
  writeFileSync(n.config, JSON.stringify(config, null, 2)); // YAML is a superset of JSON
  return n;
}

function start(n: Node): void {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', n.config], { stdio: ['ignore', 'pipe', 'pipe'] });
  n.child = child;
  n.output = '';
  const keep = (b: Buffer) => (n.output = (n.output + b.toString()).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  children.add(child);
  n.exited = new Promise((r) => child.once('exit', () => (children.delete(child), r())));
}

async function kill(n: Node): Promise<void> {
  if (n.child && n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
  await n.exited;
}

async function admin(n: Node, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown } | undefined> {
  try {
    const token = readFileSync(join(n.stateDir, 'admin-token'), 'utf8').trim();
    const r = await fetch(`http://127.0.0.1:${n.adminPort}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: r.status, json: await r.json() };
  } catch {
    return undefined;
  }
}

async function lu0(n: Node): Promise<{ owner: string | null; accessState: string } | undefined> {
  const r = await admin(n, 'GET', '/cluster');
  if (r?.status !== 200) return undefined;
  return (r.json as { lus: { lun: number; owner: string | null; accessState: string }[] }).lus.find((l) => l.lun === 0);
}

async function until(n: Node, owner: string, state: string): Promise<void> {
  await waitUntil(
    async () => {
      if (n.child && n.child.exitCode !== null) throw new Error(`node ${n.id} exited: ${n.output}`);
      const s = await lu0(n);
      return s?.owner === owner && s.accessState === state;
    },
    `node ${n.id} reports owner ${owner} and ${state}`,
    { timeoutMs: 30_000, pollMs: 20 },
  );
}

/** A single node is up when it answers a login and TEST UNIT READY. */
async function session(n: Node): Promise<TestInitiator> {
  let ini: TestInitiator | undefined;
  await waitUntil(
    async () => {
      if (n.child && n.child.exitCode !== null) throw new Error(`node ${n.id} exited: ${n.output}`);
      try {
        ini = await TestInitiator.connect(n.port);
        return true;
      } catch {
        return false;
      }
    },
    `node ${n.id} accepts connections`,
    { timeoutMs: 30_000, pollMs: 20 },
  );
  const i = ini!;
  i.isid = Buffer.from([0x80, 0x12, 0x34, 0x56, 0x00, n.id.charCodeAt(0) & 0xff]);
  const login = await i.login({ targetName: IQN });
  if (login.status[0] !== 0) throw new Error(`login to node ${n.id}: status ${login.status.join('/')}`);
  return i;
}

/** TEST UNIT READY until it answers something other than a UNIT ATTENTION (the power-on one). */
async function clearUa(i: TestInitiator): Promise<void> {
  for (let k = 0; k < 10; k++) {
    const r = await i.command({ cdb: testUnitReady() });
    if (r.status !== CHECK_CONDITION || senseCodes(r.sense)?.[0] !== 0x06) return;
  }
}

// ------------------------------------------------------------------ the multipath-like initiator

interface Path {
  node: Node;
  ini: TestInitiator;
  alive: boolean;
}

interface Ack {
  t: number;
  seq: number;
  path: string;
}

class Multipath {
  cur = 0;
  readonly retries = new Map<string, number>();

  constructor(readonly paths: Path[]) {}

  use(id: string): void {
    this.cur = this.paths.findIndex((p) => p.node.id === id);
  }

  private note(why: string): void {
    this.retries.set(why, (this.retries.get(why) ?? 0) + 1);
  }

  private failOver(): void {
    const other = (this.cur + 1) % this.paths.length;
    if (this.paths[other]!.alive) this.cur = other;
    else if (!this.paths[this.cur]!.alive) throw new Error('all paths are dead');
  }

  /** One write, retried until GOOD: resolves with the path that acknowledged it. */
  async write(lba: number, data: Buffer): Promise<string> {
    for (;;) {
      const p = this.paths[this.cur]!;
      if (!p.alive) {
        this.failOver();
        continue;
      }
      let r;
      try {
        r = await p.ini.command({ cdb: write10(lba, data.length / 512), write: data });
      } catch (err) {
        p.alive = false;
        this.note(`dead connection (${p.node.id}): ${(err as Error).message}`);
        this.failOver();
        continue;
      }
      if (r.status === GOOD) return p.node.id;
      const s = senseCodes(r.sense);
      if (r.status === CHECK_CONDITION && s && ((s[0] === 0x02 && s[1] === 0x04) || s[0] === 0x06)) {
        this.note(`${p.node.id}: ${s.map((b) => b.toString(16).padStart(2, '0')).join('/')}`);
        this.failOver();
        continue;
      }
      throw new Error(`write through ${p.node.id}: status ${r.status} sense ${s?.map((b) => b.toString(16)).join('/')}`);
    }
  }
}

/** What a block holds after write number `seq`: a 32-byte header repeated. */
function pattern(run: number, seq: number, block: number): Buffer {
  const h = Buffer.alloc(32);
  h.write('SCATTERB', 0);
  h.writeUInt32BE(run, 8);
  h.writeBigUInt64BE(BigInt(seq), 12);
  h.writeUInt32BE(block, 20);
  return Buffer.concat(Array.from({ length: IO / 32 }, () => h));
}

const BLOCKS = SIZE / IO;

/** Writes at QD1 through the multipath until stopped; every block's last acknowledged write is kept. */
class Writer {
  seq = 0;
  readonly acks: Ack[] = [];
  /** block -> { seq, path } of its last acknowledged write */
  readonly last = new Map<number, { seq: number; path: string }>();
  private stopAt = Infinity;
  done!: Promise<void>;

  constructor(
    readonly mp: Multipath,
    readonly run: number,
  ) {}

  start(): void {
    this.done = (async () => {
      while (this.acks.length < this.stopAt) {
        const seq = this.seq++;
        const block = seq % BLOCKS;
        const path = await this.mp.write((block * IO) / 512, pattern(this.run, seq, block));
        this.acks.push({ t: performance.now(), seq, path });
        this.last.set(block, { seq, path });
      }
    })();
  }

  /** Stop after `n` more acknowledged writes. */
  stopAfter(n: number): Promise<void> {
    this.stopAt = this.acks.length + n;
    return this.done;
  }

  async untilAcks(n: number): Promise<void> {
    let failed: unknown;
    this.done.catch((e: unknown) => (failed = e));
    await waitUntil(
      () => {
        if (failed) throw failed;
        return this.acks.length >= n;
      },
      `${n} acknowledged writes`,
      { timeoutMs: 60_000, pollMs: 1 },
    );
  }
}

/** Longest gap between consecutive acknowledged writes in acks[from..to]. */
function maxGap(acks: Ack[], from: number, to: number): number {
  let g = 0;
  for (let k = Math.max(1, from + 1); k <= Math.min(to, acks.length - 1); k++) g = Math.max(g, acks[k]!.t - acks[k - 1]!.t);
  return g;
}

/** Read every block's last acknowledged write back through `ini`; the blocks that differ. */
async function verify(ini: TestInitiator, w: Writer): Promise<string[]> {
  const bad: string[] = [];
  const CHUNK = 64; // blocks of 4 KiB per READ(10): 256 KiB
  for (let first = 0; first < BLOCKS; first += CHUNK) {
    const r = await ini.command({ cdb: read10((first * IO) / 512, (CHUNK * IO) / 512), read: CHUNK * IO });
    if (r.status !== GOOD) throw new Error(`read back at block ${first}: status ${r.status} sense ${senseCodes(r.sense)?.join('/')}`);
    for (let b = first; b < first + CHUNK; b++) {
      const want = w.last.get(b);
      if (!want) continue;
      const got = r.data.subarray((b - first) * IO, (b - first + 1) * IO);
      if (!got.equals(pattern(w.run, want.seq, b))) {
        const found = got.subarray(0, 8).toString() === 'SCATTERB' ? `seq ${got.readBigUInt64BE(12)}` : 'no header';
        bad.push(`block ${b}: acked seq ${want.seq} by node ${want.path}, read ${found}`);
      }
    }
  }
  return bad;
}

// ------------------------------------------------------------------ PR OUT latency

async function prLatency(ini: TestInitiator): Promise<{ p50: number; p99: number }> {
  const ms: number[] = [];
  const key = 0x5ca77e2000000000n + BigInt(randomBytes(2).readUInt16BE(0));
  const pr = async (params: Buffer) => {
    const t = performance.now();
    const r = await ini.command({ cdb: prOutCdb(SA.REGISTER), write: params });
    ms.push(performance.now() - t);
    if (r.status !== GOOD) throw new Error(`PR OUT REGISTER: status ${r.status} sense ${senseCodes(r.sense)?.join('/')}`);
  };
  for (let k = 0; k < PR_PAIRS; k++) {
    await pr(prOutParams(0n, key)); // register
    await pr(prOutParams(key, 0n)); // unregister
  }
  ms.sort((x, y) => x - y);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!;
  return { p50: q(50), p99: q(99) };
}

// ------------------------------------------------------------------ one run

interface RunResult {
  steadyGap: number;
  drainStall: number;
  drainApiMs: number;
  failoverStall: number;
  killToAck: number;
  mismatches: number;
  verified: number;
  prCluster: { p50: number; p99: number };
  prSingle: { p50: number; p99: number };
  retries: Map<string, number>;
  notes: string[];
}

async function oneRun(run: number): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'scatter-bench-failover-'));
  let etcd: TestEtcd | undefined;
  const nodes: Node[] = [];
  const sessions: TestInitiator[] = [];
  const notes: string[] = [];
  try {
    etcd = await startEtcd();
    const name = `bench${randomBytes(4).toString('hex')}`;
    const file = join(dir, 'lun0.img');
    const a = await makeNode(dir, 'a', file, { name, portGroup: 1, etcd: etcd.endpoint });
    const b = await makeNode(dir, 'b', file, { name, portGroup: 2, etcd: etcd.endpoint });
    nodes.push(a, b);
    start(a);
    await until(a, 'a', 'active/optimized');
    start(b);
    await until(b, 'a', 'standby');
    const pa = { node: a, ini: await session(a), alive: true };
    const pb = { node: b, ini: await session(b), alive: true };
    sessions.push(pa.ini, pb.ini);
    await clearUa(pa.ini);
    await clearUa(pb.ini);

    // PR OUT through the owner (a).
    const prCluster = await prLatency(pa.ini);

    const mp = new Multipath([pa, pb]);
    mp.use('a');
    const w = new Writer(mp, run);
    w.start();

    // Drain a -> b under load.
    await w.untilAcks(WARMUP);
    const steadyGap = maxGap(w.acks, 1, w.acks.length - 1);
    const beforeDrain = w.acks.length - 1;
    const drained = await admin(a, 'POST', '/cluster/drain', { target: IQN, lun: 0, to: 'b' });
    if (drained?.status !== 200) throw new Error(`drain: ${drained?.status} ${JSON.stringify(drained?.json)}`);
    const drainApiMs = (drained.json as { ms: number }).ms;
    const answered = w.acks.length;
    await w.untilAcks(answered + AFTER);
    const drainStall = maxGap(w.acks, beforeDrain, answered + AFTER - 1);
    await until(b, 'b', 'active/optimized');
    await until(a, 'b', 'standby');

    // kill -9 of the owner (b) under load.
    const base = w.acks.length;
    await w.untilAcks(base + WARMUP);
    const killedAt = performance.now();
    b.child!.kill('SIGKILL');
    const ackedAtKill = w.acks.length;
    await w.untilAcks(ackedAtKill + 1);
    await w.stopAfter(AFTER);
    const lastBefore = w.acks.filter((x) => x.t <= killedAt).at(-1)!;
    const firstAfter = w.acks.find((x) => x.t > killedAt)!;
    if (firstAfter.path !== 'a') notes.push(`run ${run}: first write acknowledged after the kill came from node ${firstAfter.path}`);
    const lateFromB = w.acks.filter((x) => x.t > killedAt && x.path === 'b');
    if (lateFromB.length > 0) notes.push(`run ${run}: ${lateFromB.length} write(s) acknowledged by the killed node after the kill (seq ${lateFromB.map((x) => x.seq).join(',')})`);
    await until(a, 'a', 'active/optimized');

    // Every block's last acknowledged write, through the survivor.
    const bad = await verify(pa.ini, w);
    for (const m of bad.slice(0, 20)) notes.push(`run ${run}: MISMATCH ${m}`);

    // The same PR OUT pairs on a single node (no cluster section), on its own file.
    await kill(a);
    const single = await makeNode(dir, 's', join(dir, 'single.img'));
    nodes.push(single);
    start(single);
    const ps = await session(single);
    sessions.push(ps);
    await clearUa(ps);
    const prSingle = await prLatency(ps);

    return {
      steadyGap,
      drainStall,
      drainApiMs,
      failoverStall: firstAfter.t - lastBefore.t,
      killToAck: firstAfter.t - killedAt,
      mismatches: bad.length,
      verified: w.last.size,
      prCluster,
      prSingle,
      retries: mp.retries,
      notes,
    };
  } catch (err) {
    for (const n of nodes) if (n.output.trim()) process.stderr.write(`--- node ${n.id} output:\n${n.output}\n`);
    throw err;
  } finally {
    for (const s of sessions) s.close();
    for (const n of nodes) await kill(n);
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ main

const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const results: RunResult[] = [];
for (let r = 1; r <= RUNS; r++) {
  const res = await oneRun(r);
  results.push(res);
  const f = (x: number) => x.toFixed(1);
  process.stderr.write(
    `run ${r}: failover stall ${f(res.failoverStall)} ms (kill -> ack ${f(res.killToAck)}), mismatches ${res.mismatches}/${res.verified}; ` +
      `drain stall ${f(res.drainStall)} ms (api ${f(res.drainApiMs)}, steady max gap ${f(res.steadyGap)}); ` +
      `PR OUT p50/p99 cluster ${f(res.prCluster.p50)}/${f(res.prCluster.p99)} single ${f(res.prSingle.p50)}/${f(res.prSingle.p99)}\n`,
  );
  for (const n of res.notes) process.stderr.write(`  ${n}\n`);
}

function row(label: string, xs: number[], digits = 1): string {
  const s = [...xs].sort((p, q) => p - q);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `| ${label} | ${xs.length} | ${mid.toFixed(digits)} | ${s[0]!.toFixed(digits)} | ${s.at(-1)!.toFixed(digits)} |`;
}

const retries = new Map<string, number>();
for (const r of results) for (const [k, v] of r.retries) retries.set(k.replace(/: .*connection closed/, ''), (retries.get(k.replace(/: .*connection closed/, '')) ?? 0) + v);
const args = process.argv.slice(2).filter((a) => a !== '--');
const lines = [
  `Command: \`npm run build && npx vite-node test/bench/cluster-failover.ts${args.length ? ` -- ${args.join(' ')}` : ''}\``,
  `(two nodes over a private etcd, leaseTtlSeconds ${TTL_S}, graceMs ${GRACE_MS}, nonOwnerState standby; one 64 MiB file LU; 4 KiB writes at QD1, ` +
    `retried at once on the other path on NOT READY / UNIT ATTENTION / dead connection; node ${process.version})`,
  '',
  '| measure | runs | median | min | max |',
  '|---|---:|---:|---:|---:|',
  row('failover stall, kill -9 of the owner (ms): last ack before -> first ack after', results.map((r) => r.failoverStall)),
  row('failover: kill -> first ack through the survivor (ms)', results.map((r) => r.killToAck)),
  row('acknowledged blocks read back wrong through the survivor', results.map((r) => r.mismatches), 0),
  row('drain stall (ms): longest gap between acks around POST /v1/cluster/drain', results.map((r) => r.drainStall)),
  row('drain: the API\'s `ms`', results.map((r) => r.drainApiMs)),
  row(`steady state, longest gap in ${WARMUP} writes before the drain (ms)`, results.map((r) => r.steadyGap)),
  row(`PR OUT REGISTER/unregister p50, cluster, through the owner (ms; ${2 * PR_PAIRS} commands)`, results.map((r) => r.prCluster.p50), 2),
  row('PR OUT p99, cluster (ms)', results.map((r) => r.prCluster.p99), 2),
  row('PR OUT p50, single node (ms)', results.map((r) => r.prSingle.p50), 2),
  row('PR OUT p99, single node (ms)', results.map((r) => r.prSingle.p99), 2),
  '',
  `Blocks verified per run: ${results.map((r) => r.verified).join(', ')}. Retries by path and cause (all runs): ` +
    [...retries].map(([k, v]) => `${k} ${v}`).join('; '),
];
console.log(lines.join('\n'));
const notes = results.flatMap((r) => r.notes);
if (notes.length) console.log(`\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}`);
process.exit(results.some((r) => r.mismatches > 0) ? 1 : 0);
