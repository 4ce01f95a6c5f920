#!/usr/bin/env node
// node test/bench/odirect.mjs [--size 512MiB] [--count 2048]      (root: makes a loop device)
// The O_DIRECT write path end to end: a target (dist/cli/main.js, run `npm run build` first) on a
// temporary config, portal 127.0.0.1:3264, admin/metrics on 127.0.0.1:9474, with
//   LUN 0: block backstore on a loop device (losetup --direct-io=on) over a sparse file in /dev/shm,
//   LUN 1: file backstore with `direct: true` (O_DIRECT) on a sparse file under /tmp (a disk fs).
// Against each LUN, `qemu-img bench` writes 1 MiB at QD 4 (--count of them) and 128 KiB at QD 8
// (8 x --count: the same bytes). Reports MB/s and, from the metrics endpoint scraped before and
// after each workload, the bytes that went straight from the received buffers to the device
// (scatter_block_direct_bytes_total) and those copied through bounce pages
// (scatter_block_bounced_bytes_total). Everything (target, loop device, files) is removed at the
// end, on failure and on SIGINT/SIGTERM too.
// stdout: one JSON object (numbers and the exact commands); stderr: a short table.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { listening, portOpen } from './target-up.mjs';

const { values } = parseArgs({ options: { size: { type: 'string', default: '512MiB' }, count: { type: 'string', default: '2048' } } });
const PORT = 3264;
const ADMIN_PORT = 9474;
const IQN = 'iqn.2026-11.io.scatter:odirect';
const INITIATOR = 'iqn.2026-12.io.scatter.bench:odirect';

function parseSize(text) {
  const m = /^(\d+)\s*(B|K|KB|KiB|M|MB|MiB|G|GB|GiB)?$/i.exec(text.trim());
  if (!m) throw new Error(`bad size ${text}`);
  const unit = (m[2] ?? 'B').toUpperCase()[0];
  return Number(m[1]) * { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[unit];
}
const SIZE = parseSize(values.size);
const COUNT = Number(values.count);
if (SIZE < 16 << 20 || SIZE % (1 << 20) !== 0) throw new Error('--size must be a whole number of MiB, at least 16MiB');
if (!Number.isInteger(COUNT) || COUNT < 1) throw new Error('bad --count');

const WORKLOADS = [
  { key: 'seq1m-write-qd4', bs: 1048576, count: COUNT, args: ['-w', '-f', 'raw', '-t', 'none', '-d', '4', '-s', '1048576', '--pattern=165'] },
  { key: 'seq128k-write-qd8', bs: 131072, count: COUNT * 8, args: ['-w', '-f', 'raw', '-t', 'none', '-d', '8', '-s', '131072', '--pattern=165'] },
];

const errConsole = new console.Console({ stdout: process.stderr, stderr: process.stderr });
const live = new Set();

function shellQuote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
const commandLine = (cmd, args) => [cmd, ...args].map(shellQuote).join(' ');

/** Runs a command to its end; the child is tracked so a signal can stop it. */
function run(cmd, args) {
  return new Promise((done) => {
    const c = execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      live.delete(c);
      done({ ok: !err, out: `${stdout}${stderr}`, stderr: String(stderr) });
    });
    live.add(c);
  });
}



function httpGet(url) {
  return new Promise((done, fail) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? done(body) : fail(new Error(`GET ${url}: ${res.statusCode} ${body.slice(0, 200)}`))));
      })
      .on('error', fail);
  });
}

const METRICS = {
  bounced_bytes: 'scatter_block_bounced_bytes_total',
  direct_bytes: 'scatter_block_direct_bytes_total',
  written_bytes: 'scatter_block_written_bytes_total',
  bios: 'scatter_block_bios_total',
  pool_waits: 'scatter_block_pool_waits_total',
};

/** The block counters of each LUN of our target: { [lun]: { bounced_bytes, ... } }. */
async function scrape() {
  const text = await httpGet(`http://127.0.0.1:${ADMIN_PORT}/metrics`);
  const byName = Object.fromEntries(Object.entries(METRICS).map(([k, v]) => [v, k]));
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\}\s+(\S+)$/.exec(line);
    if (!m || !byName[m[1]]) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.target !== IQN) continue;
    (out[labels.lun] ??= {})[byName[m[1]]] = Number(m[3]);
  }
  return out;
}

// --- state that cleanup undoes --------------------------------------------------------
let child;
let loopDev;
const dirs = [];
let cleaning;

/** Stops the target (SIGTERM to its PID, SIGKILL after 5 s), detaches the loop device, removes the files. Idempotent. */
function cleanup() {
  cleaning ??= (async () => {
    for (const c of live) c.kill('SIGTERM');
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise((done) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(t);
          done();
        });
        child.kill('SIGTERM');
      });
    }
    if (loopDev) {
      try {
        execFileSync('losetup', ['-d', loopDev], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        errConsole.error(`losetup -d ${loopDev} failed: ${err.stderr ?? err.message}`);
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    errConsole.error(`\n${sig}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

if (process.getuid?.() !== 0) throw new Error('needs root (losetup)');
if (!existsSync('dist/cli/main.js')) throw new Error('run `npm run build` first');
for (const p of [PORT, ADMIN_PORT]) if (await portOpen(p)) throw new Error(`something already listens on 127.0.0.1:${p}`);

try {
  // The loop device's backing file: RAM, so the device is cheap and the target's path shows.
  const shmDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : '/tmp', 'scatter-odirect-'));
  dirs.push(shmDir);
  const loopFile = join(shmDir, 'loop.img');
  writeFileSync(loopFile, '');
  truncateSync(loopFile, SIZE);
  // The rest (config, state dir, the O_DIRECT file LUN) on a disk filesystem.
  const tmpDir = mkdtempSync('/tmp/scatter-odirect-');
  dirs.push(tmpDir);
  const directFile = join(tmpDir, 'direct.img');
  writeFileSync(directFile, '');
  truncateSync(directFile, SIZE);

  const loop = { requested: ['--find', '--show', '--direct-io=on', loopFile], fallback: false, warnings: '' };
  try {
    loopDev = execFileSync('losetup', loop.requested, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    loop.command = commandLine('losetup', loop.requested);
  } catch (err) {
    loop.warnings = String(err.stderr ?? err.message).trim();
    loop.fallback = true;
    const args = ['--find', '--show', loopFile];
    loopDev = execFileSync('losetup', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    loop.command = commandLine('losetup', args);
  }
  if (!/^\/dev\/loop\d+$/.test(loopDev)) throw new Error(`losetup printed ${loopDev}`);
  // What the kernel actually did: it may accept --direct-io=on and still run the device buffered.
  let dio = null;
  try {
    dio = readFileSync(`/sys/block/${basename(loopDev)}/loop/dio`, 'utf8').trim() === '1';
  } catch {
    // no sysfs attribute: unknown
  }
  const fsType = (path) => {
    try {
      // Stacked mounts print one line each: the last one is the visible one.
      return execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', path], { encoding: 'utf8' }).trim().split('\n').pop();
    } catch {
      return null;
    }
  };

  const configPath = join(tmpDir, 'odirect.yaml');
  const yaml = `# Written by test/bench/odirect.mjs; removed when it ends.
logLevel: warn
stateDir: ${join(tmpDir, 'state')}
iscsi:
  portals:
    - { host: 127.0.0.1, port: ${PORT} }
  nopInInterval: 0
admin: { port: ${ADMIN_PORT} }
targets:
  - iqn: ${IQN}
    luns:
      - lun: 0
        backstore: { type: block, path: ${loopDev} }
      - lun: 1
        backstore: { type: file, path: ${directFile}, size: ${SIZE}, blockSize: 512, direct: true }
`;
  writeFileSync(configPath, yaml);

  const targetArgs = [resolve('dist/cli/main.js'), 'serve', '--config', configPath];
  // The target's stdout (its log) goes to our stderr: our stdout carries only the JSON.
  child = spawn(process.execPath, targetArgs, { stdio: ['ignore', 2, 2] });
  await listening(PORT, child);
  await listening(ADMIN_PORT, child); // the admin listener may come up after the portal

  const luns = [
    { lun: 0, backstore: `block ${loopDev} (loop on ${loopFile}, ${fsType(loopFile)}, dio=${dio})` },
    { lun: 1, backstore: `file ${directFile} (${fsType(directFile)}), direct: true` },
  ];
  const rows = [];
  for (const { lun, backstore } of luns) {
    const json = `json:${JSON.stringify({
      driver: 'raw',
      size: SIZE,
      file: { driver: 'iscsi', transport: 'tcp', portal: `127.0.0.1:${PORT}`, target: IQN, lun, 'initiator-name': INITIATOR },
    })}`;
    for (const w of WORKLOADS) {
      const args = ['bench', ...w.args, '-c', String(w.count), json];
      const before = (await scrape())[lun];
      if (!before) throw new Error(`no block metrics for ${IQN} LUN ${lun} on :${ADMIN_PORT}/metrics`);
      const r = await run('qemu-img', args);
      const m = /Run completed in ([\d.]+) seconds/.exec(r.out);
      if (!r.ok || !m) throw new Error(`qemu-img bench failed: ${r.out}`);
      const after = (await scrape())[lun];
      const runS = Number(m[1]);
      const bytes = w.bs * w.count;
      const delta = Object.fromEntries(Object.keys(METRICS).map((k) => [k, after[k] - before[k]]));
      rows.push({
        lun,
        backstore,
        workload: w.key,
        command: commandLine('qemu-img', args),
        bytes,
        run_s: runS,
        mb_s: +(bytes / runS / 1e6).toFixed(1),
        ...delta,
        bounced_pct: +((100 * delta.bounced_bytes) / Math.max(1, delta.bounced_bytes + delta.direct_bytes)).toFixed(1),
      });
    }
  }

  const result = {
    size_bytes: SIZE,
    count_1m: COUNT,
    count_128k: COUNT * 8,
    loop: {
      device: loopDev,
      backing: loopFile,
      backing_fs: fsType(loopFile),
      command: loop.command,
      direct_io_requested: true,
      direct_io_refused: loop.fallback,
      losetup_error: loop.warnings || null,
      direct_io: dio,
      note: loop.fallback
        ? 'losetup --direct-io=on failed: the loop device runs buffered (page cache of the backing file)'
        : dio === false
          ? 'losetup accepted --direct-io=on but /sys/block/*/loop/dio is 0: the kernel runs the loop device buffered'
          : null,
    },
    direct_file: { path: directFile, fs: fsType(directFile) },
    target_command: commandLine(process.execPath, targetArgs),
    config_yaml: yaml,
    metrics_url: `http://127.0.0.1:${ADMIN_PORT}/metrics`,
    metrics: METRICS,
    workloads: rows,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  errConsole.error(`\nO_DIRECT writes; loop ${loopDev} dio=${dio}${loop.fallback ? ' (--direct-io refused)' : ''}`);
  errConsole.table(
    rows.map((r) => ({
      lun: r.lun,
      workload: r.workload,
      'MB/s': r.mb_s,
      'direct MiB': +(r.direct_bytes / 2 ** 20).toFixed(1),
      'bounced MiB': +(r.bounced_bytes / 2 ** 20).toFixed(1),
      'bounced %': r.bounced_pct,
      bios: r.bios,
    })),
  );
} finally {
  await cleanup();
}
