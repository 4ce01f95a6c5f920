#!/usr/bin/env node
// npm run bench [-- --url iscsi://HOST:PORT/IQN/LUN] [--secs 3]
// Measures a target with third-party initiators (qemu-img bench, iscsi-perf). Without --url it
// builds nothing itself: it starts dist/cli/main.js on config/bench.yaml (LUN 0 = RAM-backed file,
// LUN 1 = null) and measures both LUNs. The write workloads overwrite the LUN with 0xA5.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { listening } from './target-up.mjs';

const { values } = parseArgs({ options: { url: { type: 'string' }, secs: { type: 'string', default: '3' } } });
const secs = Number(values.secs);

function run(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }));
  });
}


function parseUrl(url) {
  const m = /^iscsi:\/\/([^/]+)\/([^/]+)\/(\d+)$/.exec(url);
  if (!m) throw new Error(`bad URL ${url}`);
  return { portal: m[1], iqn: m[2], lun: Number(m[3]) };
}

function jsonTarget(url, size) {
  const { portal, iqn, lun } = parseUrl(url);
  return `json:${JSON.stringify({ driver: 'raw', size, file: { driver: 'iscsi', transport: 'tcp', portal, target: iqn, lun } })}`;
}

const WORKLOADS = [
  { key: 'rand4k-read-qd32', args: ['-d', '32', '-s', '4096'], stride: true },
  { key: 'rand4k-write-qd32', args: ['-w', '-d', '32', '-s', '4096', '--pattern=165'], stride: true },
  { key: 'seq128k-read-qd8', args: ['-d', '8', '-s', '131072'] },
  { key: 'seq128k-write-qd8', args: ['-w', '-d', '8', '-s', '131072', '--pattern=165'] },
  { key: 'seq1m-write-qd4', args: ['-w', '-d', '4', '-s', '1048576', '--pattern=165'] },
  { key: 'rand4k-read-qd1', args: ['-d', '1', '-s', '4096'], stride: true },
];

async function qemuBench(target, w, window, count) {
  const stride = w.stride ? ['-S', String(4096 * 40009)] : [];
  const r = await run('qemu-img', ['bench', '-f', 'raw', '-t', 'none', '-c', String(count), ...stride, ...w.args, target]);
  const m = /Run completed in ([\d.]+) seconds/.exec(r.out);
  if (!r.ok || !m) throw new Error(`qemu-img bench failed: ${r.out}`);
  return Number(m[1]);
}

async function measure(url) {
  const cap = await run('iscsi-readcapacity16', [url]);
  const size = Number(/Total size:(\d+)/.exec(cap.out)?.[1]);
  if (!size) throw new Error(`cannot read capacity of ${url}: ${cap.out}`);
  const window = Math.min(size, 1 << 30);
  const target = jsonTarget(url, window);
  const rows = [];
  for (const w of WORKLOADS) {
    const bytes = Number(w.args[w.args.indexOf('-s') + 1]);
    // Calibrate on a short run, then measure for about `secs`.
    const probeCount = Math.max(200, Math.floor((64 << 20) / bytes));
    const probe = await qemuBench(target, w, window, probeCount);
    const count = Math.max(100, Math.round((probeCount / probe) * secs));
    const t = await qemuBench(target, w, window, count);
    const iops = count / t;
    rows.push({ workload: w.key, iops: Math.round(iops), mb_s: +((iops * bytes) / 1e6).toFixed(1), lat_us: +((Number(w.args[w.args.indexOf('-d') + 1]) / iops) * 1e6).toFixed(1) });
  }
  const perf = await run('timeout', ['-s', 'INT', String(secs + 5), 'iscsi-perf', '-r', '-m', '32', '-b', '8', '-t', String(secs), url]);
  const iops = [...perf.out.matchAll(/iops average (\d+)/g)].pop();
  if (iops) rows.push({ workload: 'rand4k-read-qd32-iscsiperf', iops: Math.round(Number(iops[1])), mb_s: +((Number(iops[1]) * 4096) / 1e6).toFixed(1), lat_us: +((32 / Number(iops[1])) * 1e6).toFixed(1) });
  return rows;
}

let child;
let urls = values.url ? [values.url] : [];
if (!values.url) {
  if (!existsSync('dist/cli/main.js')) throw new Error('run `npm run build` first');
  child = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', 'config/bench.yaml'], { stdio: ['ignore', 'inherit', 'inherit'] });
  await listening(3262, child);
  urls = ['iscsi://127.0.0.1:3262/iqn.2026-11.io.scatter:bench/0', 'iscsi://127.0.0.1:3262/iqn.2026-11.io.scatter:bench/1'];
}
try {
  for (const url of urls) {
    console.log(`\n${url}`);
    console.table(await measure(url));
  }
} finally {
  child?.kill('SIGTERM');
}
