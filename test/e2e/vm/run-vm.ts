/**
 * Boots the e2e VM once: the cached kernel and base initramfs plus a per-run
 * archive (/init, the scenario scripts, /run.env, the pattern). Networking is
 * QEMU user mode with restrict=on and one guestfwd to the virtual portal
 * 10.0.2.100:3260, served per connection by relay.mjs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCpio } from './cpio.js';
import type { VmArtefacts } from './build.js';

const E2E = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface VmRun {
  scenario: string;
  /** Variables for /run.env. */
  env: Record<string, string | number>;
  pattern: Buffer;
  /** File holding the target's current port; the relay reads it per connection. */
  portFile: string;
  /** Where relays record their pids (for cutting connections). */
  relayPidDir: string;
  /**
   * More virtual portals (e.g. 10.0.2.101:3260), each with its own guestfwd and relay to the
   * target whose port is in its port file. The first portal is always 10.0.2.100:3260.
   */
  extraPortals?: { address: string; portFile: string; relayPidDir: string }[];
  timeoutMs: number;
  /** Called for every E2E- line as it arrives. */
  onLine?: (line: string) => void;
}

export interface VmResult {
  status: 'pass' | 'fail' | 'timeout' | 'no-result';
  message: string;
  steps: Map<string, number>;
  metrics: Map<string, string>;
  dmesg: string[];
  console: string;
  elapsedMs: number;
}

function runArchive(run: VmRun): Buffer {
  const env = Object.entries({ SCENARIO: run.scenario, PATTERN_BYTES: run.pattern.length, ...run.env })
    .map(([k, v]) => `${k}='${String(v)}'`)
    .join('\n');
  return writeCpio([
    { kind: 'file', path: 'init', data: readFileSync(join(E2E, 'guest/init.sh')), mode: 0o755 },
    { kind: 'file', path: 'scenarios.sh', data: readFileSync(join(E2E, 'guest/scenarios.sh')) },
    { kind: 'file', path: 'run.env', data: Buffer.from(`${env}\n`) },
    { kind: 'file', path: 'pattern.bin', data: run.pattern },
  ]);
}

export async function runVm(vm: VmArtefacts, run: VmRun): Promise<VmResult> {
  const dir = mkdtempSync(join(tmpdir(), 'scatter-e2e-vm-'));
  const initrd = join(dir, 'initrd.cpio');
  writeFileSync(initrd, Buffer.concat([readFileSync(vm.initramfs), runArchive(run)]));
  const relay = (portFile: string, pidDir: string): string => `${process.execPath} ${join(E2E, 'relay.mjs')} ${portFile} ${pidDir}`;
  const forward = (address: string, portFile: string, pidDir: string): string =>
    `guestfwd=tcp:${address}-cmd:${relay(portFile, pidDir).replace(/,/g, ',,')}`;
  const forwards = [
    forward('10.0.2.100:3260', run.portFile, run.relayPidDir),
    ...(run.extraPortals ?? []).map((p) => forward(p.address, p.portFile, p.relayPidDir)),
  ];
  const args = [
    '-accel', 'tcg', '-M', 'pc', '-cpu', 'qemu64,+rdrand', '-smp', '1', '-m', '512',
    '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', vm.vmlinux, '-initrd', initrd,
    '-append', 'console=ttyS0 quiet cryptomgr.notests panic=-1 rdinit=/init',
    '-netdev', `user,id=n0,restrict=on,${forwards.join(',')}`,
    '-device', 'virtio-net-pci,netdev=n0',
  ];
  const started = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleText = '';
  let pending = '';
  const result: VmResult = { status: 'no-result', message: '', steps: new Map(), metrics: new Map(), dmesg: [], console: '', elapsedMs: 0 };
  const onLine = (raw: string): void => {
    const line = raw.replace(/\r$/, '');
    if (!line.startsWith('E2E-')) return;
    run.onLine?.(line);
    const [kind, name, ...rest] = line.split(' ');
    if (kind === 'E2E-STEP') result.steps.set(name!, Number(rest[0]));
    else if (kind === 'E2E-METRIC') result.metrics.set(name!, rest.join(' '));
    else if (kind === 'E2E-DMESG') result.dmesg.push(line.slice('E2E-DMESG '.length));
    else if (kind === 'E2E-RESULT' && name === run.scenario) {
      result.status = rest[0] === 'pass' ? 'pass' : 'fail';
      result.message = rest.slice(1).join(' ');
    }
  };
  const take = (chunk: Buffer): void => {
    const text = chunk.toString();
    consoleText += text;
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    lines.forEach(onLine);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', (c: Buffer) => (consoleText += c.toString()));
  const timer = setTimeout(() => {
    result.status = result.status === 'no-result' ? 'timeout' : result.status;
    child.kill('SIGKILL');
  }, run.timeoutMs);
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
  clearTimeout(timer);
  if (pending) onLine(pending);
  rmSync(dir, { recursive: true, force: true });
  result.console = consoleText;
  result.elapsedMs = Date.now() - started;
  return result;
}
