/** Running third-party initiators from tests: asynchronously, so the in-process target keeps serving. */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findTool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * Tools the interop tests need. Under CI a missing tool is an error (the test fails);
 * on a developer machine the suite is skipped with a message saying what to install (`install`).
 */
export function missingTools(names: string[], install = 'apt-get install libiscsi-bin qemu-utils qemu-block-extra tshark'): string[] {
  const missing = names.filter((n) => !findTool(n));
  if (missing.length > 0 && process.env.CI) {
    throw new Error(`CI requires ${missing.join(', ')} (${install})`);
  }
  if (missing.length > 0) {
    process.stderr.write(`interop: skipping, missing ${missing.join(', ')}: ${install}\n`);
  }
  return missing;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 128) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
