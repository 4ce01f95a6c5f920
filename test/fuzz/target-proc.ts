/**
 * The Scatter under fuzz: the built CLI as a child process (so a crash is an exit we see, and
 * its memory is its own), with small budgets so the memory bound is tight. Per concurrency slot
 * one plain target (file LUN 0, null LUN 1) and one CHAP target (mutual, null LUN 0): cases in
 * different slots cannot reset or reserve each other's LUs. The bystanders have a target of
 * their own.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI, freePort } from '../helpers/cli-proc.js';
import type { SlotTargets } from './generators/types.js';

const MiB = 1024 * 1024;

/** The configuration's budgets; the RSS bound below is computed from them. */
export const BUDGET = {
  maxRecvDataSegmentLength: 32768,
  firstBurstLength: 65536,
  maxBurstLength: 262144,
  maxOutstandingR2T: 4,
  maxCmdWindow: 32,
  maxBufferedWriteBytes: 16 * MiB,
  maxBufferedReadBytes: 24 * MiB,
  maxQueuedBytesPerConnection: 2 * MiB,
  /** Seconds a write waits for Data-Out it is owed: short, so hostile cases give their budget back. */
  dataOutTimeout: 2,
  /** Seconds a connection may leave our PDUs unread: below the fuzzer's 5 s answer bound. */
  sendStallTimeout: 3,
  poolPages: 16,
  pageSize: 65536,
  fileLunBytes: 16 * MiB,
  nullLunBytes: 1024 * MiB,
  chapLunBytes: 64 * MiB,
  bystanderLunBytes: 16 * MiB,
} as const;

/** Per-connection constants of today's transport (src/server.ts, src/scsi/logical-unit.ts). */
export const TRANSPORT = {
  /** Bytes queued to a socket before the connection stops reading (server.ts: min(4 MiB, maxQueuedBytesPerConnection)). */
  sendHighWater: 2 * MiB,
  /** MAXIMUM TRANSFER LENGTH in bytes (VPD B0h): one command's data. */
  maxTransferBytes: 8 * MiB,
} as const;

/** V8 heap growth, allocator slack and GC lag on top of the budgets. */
export const HEAP_SLACK = 64 * MiB;

/**
 * The documented memory bound (docs/fuzzing.md):
 *
 *   RSS <= baseline + 4 * maxBufferedWriteBytes + max(maxBufferedReadBytes, maxTransferBytes) + poolPages * pageSize
 *          + connections * (sendHighWater + FirstBurstLength + 2 * max(MaxRecvDataSegmentLength, FirstBurstLength))
 *          + HEAP_SLACK
 *
 * baseline: RSS once started and warmed up (bystanders logged in, one session per slot).
 * The bound docs/security.md gives: write data is charged within maxBufferedWriteBytes and keeps
 * at most 4x that of socket chunks alive (data-out-buffer.ts), plus one first burst per session
 * that held nothing; Data-In within maxBufferedReadBytes (one read larger than it goes alone).
 * Per connection: other PDUs waiting in its socket's send queue, and the received PDU being framed
 * plus the immediate data of one command.
 * Nothing in it scales with what initiators ask for: that is the point (issue 9, items 11-15).
 */
export function rssBound(baseline: number, connections: number): number {
  const perConnection = TRANSPORT.sendHighWater + BUDGET.firstBurstLength + 2 * Math.max(BUDGET.maxRecvDataSegmentLength, BUDGET.firstBurstLength);
  const reads = Math.max(BUDGET.maxBufferedReadBytes, TRANSPORT.maxTransferBytes);
  return baseline + 4 * BUDGET.maxBufferedWriteBytes + reads + BUDGET.poolPages * BUDGET.pageSize + connections * perConnection + HEAP_SLACK;
}

export const CHAP = { user: 'fuzz-user', secret: 'fuzz-secret-0123456789', mutual: { user: 'fuzz-target', secret: 'fuzz-target-secret-98765' } };
export const BYSTANDER_IQN = 'iqn.2026-11.io.scatter.fuzz:bystander';

export interface FuzzTarget {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dir: string;
  readonly slots: SlotTargets[];
  /** Exit code / signal once the process is gone. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** VmRSS / VmHWM in bytes. */
  status(): { rss: number; hwm: number } | undefined;
  /** Reset the peak (VmHWM) to the current RSS (Linux clear_refs 5). */
  resetPeak(): void;
  /** Log lines at error level or above (all of them), and the last lines of stdout and stderr. */
  readonly errors: string[];
  readonly tail: string[];
  stop(): Promise<void>;
}

export async function startFuzzTarget(slots: number): Promise<FuzzTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'scatter-fuzz-'));
  const port = await freePort();
  const slotTargets: SlotTargets[] = [];
  const targets: unknown[] = [];
  for (let k = 0; k < slots; k++) {
    const plain = `iqn.2026-11.io.scatter.fuzz:slot${k}`;
    const chap = `iqn.2026-11.io.scatter.fuzz:slot${k}-chap`;
    mkdirSync(join(dir, `slot${k}`));
    targets.push(
      {
        iqn: plain,
        luns: [
          { lun: 0, backstore: { type: 'file', path: join(dir, `slot${k}`, 'lun0.img'), size: BUDGET.fileLunBytes } },
          { lun: 1, backstore: { type: 'null', size: BUDGET.nullLunBytes } },
        ],
      },
      {
        iqn: chap,
        auth: { method: 'chap', user: CHAP.user, secret: CHAP.secret, mutualUser: CHAP.mutual.user, mutualSecret: CHAP.mutual.secret },
        luns: [{ lun: 0, backstore: { type: 'null', size: BUDGET.chapLunBytes } }],
      },
    );
    slotTargets.push({
      plain,
      chap,
      chapCredentials: CHAP,
      fileLunBlocks: BUDGET.fileLunBytes / 512,
      nullLunBlocks: BUDGET.nullLunBytes / 512,
      chapLunBlocks: BUDGET.chapLunBytes / 512,
      unknown: `iqn.2026-11.io.scatter.fuzz:slot${k}-nobody`,
    });
  }
  targets.push({ iqn: BYSTANDER_IQN, luns: [{ lun: 0, backstore: { type: 'file', path: join(dir, 'bystander.img'), size: BUDGET.bystanderLunBytes } }] });
  const config = {
    logLevel: 'info',
    stateDir: join(dir, 'state'),
    iscsi: {
      portals: [{ host: '127.0.0.1', port }],
      nopInInterval: 5,
      nopInTimeout: 5,
      maxRecvDataSegmentLength: BUDGET.maxRecvDataSegmentLength,
      maxBurstLength: BUDGET.maxBurstLength,
      firstBurstLength: BUDGET.firstBurstLength,
      maxOutstandingR2T: BUDGET.maxOutstandingR2T,
      immediateData: true,
      initialR2T: false,
      maxCmdWindow: BUDGET.maxCmdWindow,
      maxBufferedWriteBytes: BUDGET.maxBufferedWriteBytes,
      maxBufferedReadBytes: BUDGET.maxBufferedReadBytes,
      maxQueuedBytesPerConnection: BUDGET.maxQueuedBytesPerConnection,
      dataOutTimeout: BUDGET.dataOutTimeout,
      sendStallTimeout: BUDGET.sendStallTimeout,
      // Every case comes from 127.0.0.1: a CHAP throttle keyed on the source address would hold up
      // the honest logins behind the hostile ones. Its own tests (chap-throttle*.test.ts) cover it.
      authThrottle: { failureDelayMs: 0, maxFailureDelayMs: 0, lockoutAfterFailures: 0 },
    },
    memory: { pageSize: BUDGET.pageSize, poolPages: BUDGET.poolPages, poolWaitMs: 2000 },
    admin: { enabled: false },
    targets,
  };
  // JSON is YAML: the CLI reads it as its config file.
  const file = join(dir, 'fuzz.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let serving = false;
  let onServing: (() => void) | undefined;
  const t: FuzzTarget = {
    child,
    port,
    dir,
    slots: slotTargets,
    exit: undefined,
    errors: [],
    tail: [],
    status() {
      try {
        const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
        return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
      } catch {
        return undefined;
      }
    },
    resetPeak() {
      try {
        writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
      } catch {
        // Not permitted: the sampled maximum still stands.
      }
    },
    async stop() {
      if (t.exit === undefined) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Lines are read as they come (a long run logs a lot): errors are kept, the rest only as a tail.
  const keep = (line: string) => {
    t.tail.push(line.length > 2000 ? `${line.slice(0, 2000)}...` : line);
    if (t.tail.length > 200) t.tail.shift();
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    keep(line);
    if (!line.startsWith('{')) return;
    let entry: { level?: number; msg?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if ((entry.level ?? 0) >= 50) t.errors.push(line.length > 4000 ? `${line.slice(0, 4000)}...` : line);
    if (entry.msg === 'scatter is serving') {
      serving = true;
      onServing?.();
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => keep(`stderr: ${line}`));
  const started = new Promise<boolean>((resolve) => {
    onServing = () => resolve(true);
    child.once('exit', (code, signal) => {
      t.exit = { code, signal };
      resolve(serving);
    });
    setTimeout(() => resolve(serving), 30_000).unref();
  });
  if (!(await started)) {
    await t.stop();
    throw new Error(`the fuzz target did not start:\n${t.tail.join('\n')}`);
  }
  return t;
}
