/**
 * A packet capture on loopback with tshark, for tests that compare what the target parses with what
 * Wireshark's dissectors see. Start and stop are events, not guesses: tshark's "Capturing on" comes
 * some tens of milliseconds before packets are really captured, so start() also waits until a probe
 * datagram shows up in tshark's own output; stop() waits until an end marker shows up, so every
 * packet sent before it is in the file, then ends tshark.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { run, type RunResult } from './tools.js';
import { waitUntil, within } from './wait.js';

export interface Capture {
  /** The pcap file being written. */
  readonly file: string;
  /** Packets sent from now on are in the file once this resolves; then tshark is ended. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;

/** Capture TCP port `port` on loopback into `file` (pcapng). */
export async function startCapture(port: number, file: string): Promise<Capture> {
  const probe = dgram.createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const probePort = probe.address().port;
  const child = spawn(
    'tshark',
    // -P -T fields: one line per captured packet on stdout while the file is written (-l: at once).
    ['-i', 'lo', '-B', '64', '-f', `tcp port ${port} or udp dst port ${probePort}`, '-w', file, '-P', '-l', '-T', 'fields', '-e', 'data.data'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit');
  const alive = (): void => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`tshark exited: ${stderr}`);
  };
  /** The marker datagram has been captured and printed (resent until then: one sent too early is lost). */
  const captured = (marker: string): (() => boolean) => {
    const hex = Buffer.from(marker).toString('hex');
    return () => {
      alive();
      if (stdout.split('\n').some((line) => line.trim() === hex)) return true;
      probe.send(marker, probePort, '127.0.0.1');
      return false;
    };
  };
  try {
    const capturing = (): boolean => {
      alive();
      return stderr.includes('Capturing on');
    };
    await waitUntil(capturing, () => `tshark says "Capturing on": ${stderr}`, START_TIMEOUT_MS);
    await waitUntil(captured('scatter-capture-ready'), 'tshark captures a probe datagram', { timeoutMs: START_TIMEOUT_MS, pollMs: 20 });
  } catch (err) {
    child.kill('SIGKILL');
    probe.close();
    throw err;
  }
  return {
    file,
    stop: async () => {
      try {
        await waitUntil(captured('scatter-capture-end'), 'tshark captures the end marker', { timeoutMs: START_TIMEOUT_MS, pollMs: 20 });
      } finally {
        child.kill('SIGINT');
        await within(exited, 10_000, 'tshark exits');
        probe.close();
      }
    },
  };
}

/** tshark over a capture file. */
export function tsharkRead(file: string, args: string[]): Promise<RunResult> {
  return run('tshark', ['-r', file, ...args], 120_000);
}
