/** Starts a real Scatter on 127.0.0.1 (ephemeral port) over real files in a temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startScatter, type Scatter, type StartOptions } from '../../src/server/start.js';

export const TEST_IQN = 'iqn.2026-11.io.scatter:test';

export interface TestTarget {
  scatter: Scatter;
  port: number;
  dir: string;
  config: Config;
  stop(graceMs?: number): Promise<void>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/**
 * `customize` receives a plain config object (as a file would hold it, paths relative to `dir`)
 * before validation. Default: one target TEST_IQN with LUN 0 = 64 MiB sparse file and LUN 1 = null.
 */
export async function startTestTarget(
  customize?: (raw: Record<string, unknown>, dir: string) => void,
  opts: { log?: Logger; dir?: string; start?: StartOptions } = {},
): Promise<TestTarget> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'scatter-test-'));
  const raw: Record<string, unknown> = {
    logLevel: process.env.SCATTER_TEST_LOG ?? 'silent',
    // Reservations of block LUNs, journals: inside the temp dir, never the checkout's ./data/state.
    stateDir: join(dir, 'state'),
    iscsi: { portals: [{ host: '127.0.0.1', port: 3260 }], nopInInterval: 0 },
    memory: { poolPages: 64, pageSize: 65536 },
    targets: [
      {
        iqn: TEST_IQN,
        luns: [
          { lun: 0, backstore: { type: 'file', path: join(dir, 'lun0.img'), size: '64MiB' } },
          { lun: 1, backstore: { type: 'null', size: '1GiB' } },
        ],
      },
    ],
  };
  customize?.(raw, dir);
  const config = validateConfig(raw, 'test') as Mutable<Config>;
  // Port 0: let the kernel pick, so parallel runs never collide.
  config.iscsi.portals = config.iscsi.portals.map((p) => ({ ...p, port: 0 }));
  // Same for the admin listener: a real target may hold 9470.
  config.admin = { ...config.admin, port: 0 };
  const log = opts.log ?? pino({ level: config.logLevel });
  const scatter = await startScatter(config, log, opts.start);
  return {
    scatter,
    port: scatter.ports[0]!,
    dir,
    config,
    stop: async (graceMs = 0) => {
      await scatter.stop(graceMs);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A pino logger whose lines (parsed) are kept in `lines`, for tests that check what is logged. */
export function capturingLogger(): { log: Logger; lines: Record<string, unknown>[]; messages(msg: string): Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines, messages: (msg) => lines.filter((l) => l.msg === msg) };
}
