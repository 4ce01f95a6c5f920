#!/usr/bin/env node
// node test/bench/sessions.mjs [--url iscsi://HOST:PORT/IQN/LUN] [--sessions 1,2,4,8,16] [--qd 8]
//                              [--count 20000] [--warmup COUNT] [--lun 1]
// Scaling with the number of sessions: for each session count S, S `qemu-img bench` processes
// (libiscsi block driver, 4 KiB reads with a prime stride, QD each) run at once, each logging in
// with its own initiator name (the same name twice would make the target reinstate the session
// and drop the other one). Reports total IOPS = S * count / wall time (first start to last exit),
// and, when this script started the target itself, the target's CPU time in that window
// (/proc/<pid>/stat utime + stime): CPU % and µs of target CPU per command.
// Without --url it starts dist/cli/main.js on config/bench.yaml (run `npm run build` first) and
// measures LUN --lun (1 = null backstore, the default; 0 = the RAM-backed file), then stops it.
// stdout: one JSON object (numbers and the exact commands); stderr: a short table.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { listening, portOpen } from './target-up.mjs';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    sessions: { type: 'string', default: '1,2,4,8,16' },
    qd: { type: 'string', default: '8' },
    count: { type: 'string', default: '20000' },
    warmup: { type: 'string' },
    lun: { type: 'string', default: '1' },
  },
});
const SESSIONS = values.sessions.split(',').map((s) => Number(s.trim()));
const QD = Number(values.qd);
const COUNT = Number(values.count);
const WARMUP = values.warmup === undefined ? COUNT : Number(values.warmup);
const BS = 4096;
const PORT = 3262;
const IQN = 'iqn.2026-11.io.scatter:bench';
const INITIATOR_PREFIX = 'iqn.2026-12.io.scatter.bench';
for (const [name, v] of [['qd', QD], ['count', COUNT], ['lun', Number(values.lun)], ...SESSIONS.map((s) => ['sessions', s])]) {
  if (!Number.isInteger(v) || v < (name === 'lun' ? 0 : 1)) throw new Error(`bad --${name}`);
}
if (!Number.isInteger(WARMUP) || WARMUP < 0) throw new Error('bad --warmup');

const errConsole = new console.Console({ stdout: process.stderr, stderr: process.stderr });
const live = new Set();

function shellQuote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
const commandLine = (cmd, args) => [cmd, ...args].map(shellQuote).join(' ');

/** Runs a command to its end; the child is tracked so a signal can stop it. */
function run(cmd, args) {
  return new Promise((resolve) => {
    const c = execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      live.delete(c);
      resolve({ ok: !err, out: `${stdout}${stderr}` });
    });
    live.add(c);
  });
}



function parseUrl(url) {
  const m = /^iscsi:\/\/([^/]+)\/([^/]+)\/(\d+)$/.exec(url);
  if (!m) throw new Error(`bad URL ${url}`);
  return { portal: m[1], iqn: m[2], lun: Number(m[3]) };
}

function jsonTarget(url, size, initiator) {
  const { portal, iqn, lun } = parseUrl(url);
  const file = { driver: 'iscsi', transport: 'tcp', portal, target: iqn, lun, 'initiator-name': initiator };
  return `json:${JSON.stringify({ driver: 'raw', size, file })}`;
}

/** The first n primes above 40000 (40009 is run.mjs's stride): one stride per concurrent process. */
function primes(n) {
  const out = [];
  for (let p = 40001; out.length < n; p += 2) {
    let prime = true;
    for (let d = 3; d * d <= p; d += 2) if (p % d === 0) prime = false;
    if (prime) out.push(p);
  }
  return out;
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
function hostTicks() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

let child;
let stopping;
/** SIGTERM to the exact target PID, SIGKILL if it has not exited after 5 s. Idempotent. */
function stopTarget() {
  stopping ??= new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
  return stopping;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    errConsole.error(`\n${sig}: stopping`);
    for (const c of live) c.kill('SIGTERM');
    stopTarget().finally(() => process.exit(130));
  });
}

let url = values.url;
let targetCommand = null;
if (!url) {
  if (!existsSync('dist/cli/main.js')) throw new Error('run `npm run build` first');
  if (await portOpen(PORT)) throw new Error(`something already listens on 127.0.0.1:${PORT}; stop it or pass --url`);
  const args = ['dist/cli/main.js', 'serve', '--config', 'config/bench.yaml'];
  targetCommand = commandLine(process.execPath, args);
  // The target's stdout (its log) goes to our stderr: our stdout carries only the JSON.
  child = spawn(process.execPath, args, { stdio: ['ignore', 2, 2] });
  url = `iscsi://127.0.0.1:${PORT}/${IQN}/${values.lun}`;
}

try {
  if (child) await listening(PORT, child);
  const clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const capArgs = ['-i', `${INITIATOR_PREFIX}:capacity`, url];
  const cap = await run('iscsi-readcapacity16', capArgs);
  const size = Number(/Total size:(\d+)/.exec(cap.out)?.[1]);
  if (!size) throw new Error(`cannot read capacity of ${url}: ${cap.out}`);
  const window = Math.min(size, 1 << 30);
  const strides = primes(Math.max(...SESSIONS));

  const benchArgs = (i, count) => [
    'bench', '-f', 'raw', '-t', 'none', '-d', String(QD), '-s', String(BS), '-c', String(count), '-S', String(BS * strides[i]),
    jsonTarget(url, window, `${INITIATOR_PREFIX}:s${i}`),
  ];
  const completed = (r) => {
    const m = /Run completed in ([\d.]+) seconds/.exec(r.out);
    if (!r.ok || !m) throw new Error(`qemu-img bench failed: ${r.out}`);
    return Number(m[1]);
  };

  let warmup = null;
  if (WARMUP > 0) {
    // The target's JIT warms up here, so S=1 is not measured on cold code.
    const args = benchArgs(0, WARMUP);
    warmup = { command: commandLine('qemu-img', args), run_s: completed(await run('qemu-img', args)) };
  }

  const measured = [];
  const commandLines = [];
  for (const S of SESSIONS) {
    await new Promise((r) => setTimeout(r, 300)); // let the previous step's logouts settle
    const argv = Array.from({ length: S }, (_, i) => benchArgs(i, COUNT));
    const cpu0 = child ? cpuTicks(child.pid) : null;
    const host0 = hostTicks();
    const t0 = performance.now();
    const results = await Promise.all(argv.map((args) => run('qemu-img', args)));
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = child ? cpuTicks(child.pid) : null;
    const host1 = hostTicks();
    const runs = results.map(completed);
    const cmds = S * COUNT;
    const cpuS = child ? (cpu1 - cpu0) / clkTck : null;
    commandLines.push(argv.map((args) => commandLine('qemu-img', args)));
    measured.push({
      sessions: S,
      commands: cmds,
      wall_s: +wall.toFixed(3),
      iops: Math.round(cmds / wall),
      mb_s: +((cmds * BS) / wall / 1e6).toFixed(1),
      proc_run_s: { min: Math.min(...runs), max: Math.max(...runs) },
      target_cpu_s: cpuS,
      target_cpu_pct: cpuS === null ? null : +((100 * cpuS) / wall).toFixed(1),
      target_cpu_us_per_cmd: cpuS === null ? null : +((cpuS * 1e6) / cmds).toFixed(2),
      host_cpu_pct: +((100 * (host1.busy - host0.busy)) / Math.max(1, host1.total - host0.total)).toFixed(1),
    });
  }
  const base = measured.find((s) => s.sessions === 1) ?? measured[0];
  const steps = measured.map((s, i) => ({ ...s, scaling: +(s.iops / base.iops).toFixed(2), command_lines: commandLines[i] }));

  const result = {
    url,
    target_started: Boolean(child),
    target_command: targetCommand,
    target_pid: child?.pid ?? null,
    capacity_command: commandLine('iscsi-readcapacity16', capArgs),
    lun_bytes: size,
    window_bytes: window,
    block_size: BS,
    qd: QD,
    count_per_process: COUNT,
    clk_tck: clkTck,
    host_cpus: cpus().length,
    scaling_baseline_sessions: base.sessions,
    warmup,
    steps,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  errConsole.error(`\n${url}  4 KiB reads, QD ${QD} per session, ${COUNT} per process`);
  errConsole.table(
    steps.map((s) => ({
      sessions: s.sessions,
      iops: s.iops,
      scaling: s.scaling,
      'target cpu %': s.target_cpu_pct,
      'target µs/cmd': s.target_cpu_us_per_cmd,
      'host cpu %': s.host_cpu_pct,
      'wall s': s.wall_s,
    })),
  );
} finally {
  await stopTarget();
}
