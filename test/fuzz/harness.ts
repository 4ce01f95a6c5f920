/**
 * Runs the fuzz cases against a Scatter child process: `concurrency` workers, each on its own
 * slot of targets, take case indices in order; case i is generator schedule[i % length] with
 * the random generator Rng.forCase(seed, i), so (seed, i) replays it. Around the cases: the
 * crash watch (a), the bystanders (d) and the memory bound (e); inside each case the session
 * checks (b), (c), (f) and the RFC answers. Every wait is bounded: a case that does not end
 * in time is a failure of its own and its sockets are destroyed, so the run always ends.
 */
import { Bystander } from './bystander.js';
import { CaseContext, type Failure } from './case.js';
import { GENERATORS, schedule } from './generators/index.js';
import type { GenContext, SessionWish, SlotTargets } from './generators/types.js';
import { login, randomNegotiation, type LoginPlan } from './login.js';
import { Rng } from './rng.js';
import { FuzzSession } from './session.js';
import { command } from './generators/command.js';
import { Opcode, ittOf, opOf } from './wire.js';
import { BYSTANDER_IQN, BUDGET, rssBound, startFuzzTarget, type FuzzTarget } from './target-proc.js';

export interface FuzzOptions {
  seed: number;
  /** Case indices 0..cases-1 (or `only`). */
  cases: number;
  concurrency: number;
  /** How long any answer the target owes may take. */
  answerMs: number;
  /** Bystander bound per command. */
  bystanderMs: number;
  /** Run only these case indices. */
  only?: number[];
  /** Run only these generators / all but these. */
  generators?: string[];
  skip?: string[];
  /** Stop starting cases after this many seconds. */
  seconds?: number;
  progress?: (line: string) => void;
  /** Print the PDUs of every case, failed or not (for replaying one case). */
  traceEvery?: boolean;
  /** Called after each case (the harness's own self-check uses it to kill the target). */
  afterCase?: (index: number, target: FuzzTarget) => void;
}

export interface CaseReport {
  index: number;
  generator: string;
  failures: Failure[];
  trace: string;
}

export interface FuzzReport {
  seed: number;
  casesRun: number;
  pdusSent: number;
  byGenerator: Record<string, number>;
  failedCases: CaseReport[];
  global: Failure[];
  rss: { baseline: number; peak: number; bound: number; peakDuring: string };
  bystanders: { ops: number; maxLatencyMs: number }[];
  elapsedMs: number;
}

const SESSIONS_PER_CASE = 2;

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const target = await startFuzzTarget(o.concurrency);
  const global: Failure[] = [];
  const failedCases: CaseReport[] = [];
  const byGenerator: Record<string, number> = {};
  const order = schedule(new Rng(o.seed), o.generators, o.skip);
  const running = new Map<number, string>();
  let pdusSent = 0;
  let casesRun = 0;
  let peakSampled = 0;
  let peakDuring = '';
  const bystanders: Bystander[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    // Bystanders first, on their own target: half of its LU each.
    const half = BUDGET.bystanderLunBytes / 512 / 2;
    for (let b = 0; b < 2; b++) {
      const by = new Bystander(target.port, BYSTANDER_IQN, b + 1, b * half, half, new Rng(o.seed ^ (0x5eed0000 + b)), o.bystanderMs);
      by.concurrent = () => [...running].map(([i, name]) => `case ${i} (${name})`);
      await by.start();
      bystanders.push(by);
    }
    // Warm up: one honest session per slot, so the baseline includes a working target.
    await Promise.all(
      target.slots.map(async (slot, k) => {
        const ctx = new CaseContext(o.seed, -1 - k, 'warm-up');
        const g = genContext(target, slot, ctx, new Rng(o.seed + k), o.answerMs, []);
        const s = await g.session({ kind: 'plain' });
        s?.close();
        if (ctx.failures.length > 0) throw new Error(`warm-up login failed: ${ctx.failures.map((f) => f.message).join('; ')}\n${ctx.trace.text()}`);
      }),
    );
    const baseline = target.status()?.rss ?? NaN;
    const bound = rssBound(baseline, o.concurrency * SESSIONS_PER_CASE + bystanders.length);
    target.resetPeak();
    // Sampling only says which cases ran when the RSS first went over the bound (the peak itself is VmHWM).
    sampler = setInterval(() => {
      const st = target.status();
      if (st && st.rss > peakSampled) peakSampled = st.rss;
      if (st && st.rss > bound && peakDuring === '') peakDuring = [...running].map(([i, gname]) => `case ${i} (${gname})`).join(', ') || 'no case';
    }, 100);

    const indices = o.only ?? Array.from({ length: o.cases }, (_, i) => i);
    let next = 0;
    const deadline = o.seconds ? started + o.seconds * 1000 : Infinity;
    const worker = async (k: number): Promise<void> => {
      for (;;) {
        if (target.exit !== undefined || Date.now() > deadline) return;
        const at = next++;
        if (at >= indices.length) return;
        const index = indices[at]!;
        const gen = order[index % order.length]!;
        running.set(index, gen.name);
        const report = await runCase(target, target.slots[k]!, index, gen.name, o, running);
        running.delete(index);
        o.afterCase?.(index, target);
        casesRun++;
        pdusSent += report.pdus;
        byGenerator[gen.name] = (byGenerator[gen.name] ?? 0) + 1;
        const exit = exitOf(target);
        if (exit) report.ctx.fail('crash', `the target exited (code ${exit.code}, signal ${exit.signal}) during this case`);
        if (o.traceEvery) o.progress?.(`case ${index} (${gen.name}):\n${report.ctx.trace.text()}`);
        if (report.ctx.failures.length > 0) {
          failedCases.push({ index, generator: gen.name, failures: report.ctx.failures, trace: report.ctx.trace.text() });
          o.progress?.(`case ${index} (${gen.name}): ${report.ctx.failures.map((f) => `${f.kind}: ${f.message}`).join(' | ')}`);
        }
        if (casesRun % 100 === 0) o.progress?.(`${casesRun} cases, ${pdusSent} PDUs, ${Math.round((Date.now() - started) / 1000)} s`);
      }
    };
    await Promise.all(target.slots.map((_, k) => worker(k)));
    clearInterval(sampler);
    sampler = undefined;

    for (const by of bystanders) await by.stop();
    for (const by of bystanders) for (const f of by.failures) global.push({ kind: 'bystander', message: f });
    const peak = Math.max(peakSampled, target.status()?.hwm ?? 0);
    if (!(peak <= bound)) {
      global.push({
        kind: 'rss',
        message: `peak RSS ${mib(peak)} MiB > bound ${mib(bound)} MiB (baseline ${mib(baseline)} MiB; see rssBound in target-proc.ts)${peakDuring ? `; first over the bound while ${peakDuring} ran` : ''}`,
      });
    }
    if (target.exit !== undefined) {
      global.push({ kind: 'crash', message: `the target exited (code ${target.exit.code}, signal ${target.exit.signal}):\n${target.tail.slice(-40).join('\n')}` });
    }
    for (const line of target.errors) global.push({ kind: 'error-log', message: line });
    return {
      seed: o.seed,
      casesRun,
      pdusSent,
      byGenerator,
      failedCases,
      global,
      rss: { baseline, peak, bound, peakDuring },
      bystanders: bystanders.map((b) => ({ ops: b.ops, maxLatencyMs: b.maxLatencyMs })),
      elapsedMs: Date.now() - started,
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await target.stop();
  }
}

async function runCase(target: FuzzTarget, slot: SlotTargets, index: number, generator: string, o: FuzzOptions, running: ReadonlyMap<number, string>): Promise<{ ctx: CaseContext; pdus: number }> {
  const ctx = new CaseContext(o.seed, index, generator);
  ctx.concurrent = () => [...running].map(([i, name]) => `case ${i} (${name})`);
  const sessions: FuzzSession[] = [];
  const g = genContext(target, slot, ctx, Rng.forCase(o.seed, index), o.answerMs, sessions);
  const gen = GENERATORS.find((x) => x.name === generator)!;
  // Long enough for the slowest generator (a 12 s hold) plus settling every answer twice over.
  const limit = 20_000 + 8 * o.answerMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limit)));
  const body = (async () => {
    try {
      await gen.run(g);
    } catch (err) {
      ctx.fail('crash', `the generator threw: ${(err as Error).stack ?? String(err)}`);
    }
    await Promise.all(sessions.map((s) => s.settle()));
    return 'done' as const;
  })();
  if ((await Promise.race([body, timedOut])) === 'timeout') ctx.fail('hang', `the case did not finish within ${limit} ms`);
  clearTimeout(timer);
  for (const s of sessions) s.close();
  return { ctx, pdus: ctx.trace.sentCount };
}

function genContext(target: FuzzTarget, slot: SlotTargets, ctx: CaseContext, r: Rng, answerMs: number, sessions: FuzzSession[]): GenContext {
  const initiatorName = `iqn.2026-11.io.scatter.fuzz:case-${ctx.index < 0 ? `w${-ctx.index}` : ctx.index}`;
  const connect = async (): Promise<FuzzSession> => {
    const s = await FuzzSession.connect(target.port, ctx, answerMs);
    s.isid = Buffer.concat([Buffer.from([0x80]), r.bytes(5)]);
    s.cid = r.int(0, 0xffff);
    sessions.push(s);
    return s;
  };
  return {
    r,
    ctx,
    slot,
    answerMs,
    initiatorName,
    connect,
    async session(wish: SessionWish = {}) {
      const s = await connect();
      const kind = wish.kind ?? 'plain';
      const neg = { ...randomNegotiation(r), ...wish.neg };
      if (neg.firstBurst > neg.maxBurst) neg.firstBurst = neg.maxBurst;
      const plan: LoginPlan = {
        sessionType: kind === 'discovery' ? 'Discovery' : 'Normal',
        targetName: kind === 'discovery' ? undefined : kind === 'chap' ? slot.chap : slot.plain,
        initiatorName,
        chap: kind === 'chap' ? { ...slot.chapCredentials, algorithms: [r.pick([5, 6, 7, 8])], askMutual: true } : undefined,
        neg,
      };
      s.isDiscovery = kind === 'discovery';
      if (!(await login(s, plan))) return undefined;
      // A new I_T nexus reports POWER ON / RESET on its first command: usually take it here, so
      // that a generator's own first command is not answered by it (sometimes leave it).
      if (!s.isDiscovery && r.bool(0.85)) {
        for (const lun of kind === 'chap' ? [0] : [0, 1]) {
          const since = s.mark();
          const t = await command(s, { lun, cdb: Buffer.alloc(6), edtl: 0, read: false, write: false, immediate: true, note: 'TEST UNIT READY (takes the unit attention)' });
          if (t) await s.waitPdu((p) => opOf(p.bhs) === Opcode.SCSI_RSP && ittOf(p.bhs) === t.itt, answerMs, since);
        }
      }
      return s;
    },
  };
}

/** Read through a function: the exit comes from an event, which flow analysis cannot see. */
const exitOf = (t: FuzzTarget): FuzzTarget['exit'] => t.exit;

const mib = (n: number): string => (n / 1024 / 1024).toFixed(1);

/** Failures grouped by kind and message shape (numbers taken out), first case of each. */
export function distinctFailures(r: FuzzReport): { key: string; count: number; first: CaseReport | undefined; example: Failure }[] {
  const groups = new Map<string, { key: string; count: number; first: CaseReport | undefined; example: Failure }>();
  const add = (f: Failure, c: CaseReport | undefined) => {
    const shape = f.message.replace(/0x[0-9a-f]+|\b[0-9a-f]{6,}\b|\d+/gi, '#').slice(0, 160);
    const key = `${f.kind}${c ? ` [${c.generator}]` : ''}: ${shape}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { key, count: 1, first: c, example: f });
  };
  for (const c of [...r.failedCases].sort((a, b) => a.index - b.index)) for (const f of c.failures) add(f, c);
  for (const f of r.global) add(f, undefined);
  return [...groups.values()];
}

export function formatReport(r: FuzzReport, traces: 'first' | 'all'): string {
  const out: string[] = [];
  out.push(
    `scatter fuzz: seed ${r.seed}, ${r.casesRun} cases, ${r.pdusSent} PDUs sent, ${Math.round(r.elapsedMs / 1000)} s; RSS baseline ${mib(r.rss.baseline)} MiB, peak ${mib(r.rss.peak)} MiB, bound ${mib(r.rss.bound)} MiB; bystanders ${r.bystanders.map((b) => `${b.ops} ops (max ${b.maxLatencyMs} ms)`).join(', ')}`,
  );
  const groups = distinctFailures(r);
  if (groups.length === 0) return out.join('\n');
  out.push(`${groups.length} distinct failure(s):`);
  const printed = new Set<number>();
  for (const g of groups) {
    out.push('', `== ${g.key}  (x${g.count})`, `   ${g.example.message}`);
    if (!g.first) continue;
    out.push(`   first in case ${g.first.index}; replay: SCATTER_FUZZ_SEED=${r.seed} SCATTER_FUZZ_ONLY=${g.first.index} npx vitest run test/fuzz/fuzz.test.ts`);
    if (traces === 'first' && !printed.has(g.first.index)) {
      printed.add(g.first.index);
      out.push(indent(g.first.trace));
    }
  }
  if (traces === 'all') for (const c of r.failedCases) out.push('', `-- case ${c.index} (${c.generator})`, indent(c.trace));
  return out.join('\n');
}

const indent = (s: string): string =>
  s
    .split('\n')
    .map((l) => `     ${l}`)
    .join('\n');
