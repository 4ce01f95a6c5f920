/** Capturing a test target's traffic with tshark and asking Wireshark's iSCSI dissector about it. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './cli-proc.js';
import { run } from './tools.js';

export interface Capture {
  readonly file: string;
  /**
   * Stop capturing once tshark has taken in everything sent so far: a last TCP connection
   * from a known local port is the marker, and tshark's packet list (-P) shows when it got it.
   */
  stop(): Promise<void>;
}

/**
 * `tshark -i lo -f "tcp port <p1> or tcp port <p2>..." -w <file>`; resolves once tshark reports
 * "Capturing on" on stderr, so no packet of the traffic that follows is missed.
 */
export function startCapture(ports: number[], file: string, timeoutMs = 20_000): Promise<Capture> {
  return new Promise((resolve, reject) => {
    const filter = ports.map((p) => `tcp port ${p}`).join(' or ');
    const child: ChildProcess = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', file, '-P', '-l'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The packet list, only to see the marker connection arrive; it is not kept.
    let seenTail = '';
    const markers: { port: number; seen: () => void }[] = [];
    child.stdout!.on('data', (c: Buffer) => {
      seenTail = (seenTail + c.toString()).slice(-4096);
      for (const m of [...markers]) {
        if (new RegExp(`\\b${m.port} → ${ports[0]} \\[FIN`).test(seenTail)) {
          markers.splice(markers.indexOf(m), 1);
          m.seen();
        }
      }
    });
    let stderr = '';
    let capturing = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tshark did not start capturing: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!capturing) reject(new Error(`tshark exited (${code}) before capturing: ${stderr}`));
    });
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (!capturing && /Capturing on/.test(stderr)) {
        capturing = true;
        clearTimeout(timer);
        resolve({
          file,
          stop: async () => {
            const localPort = await freePort();
            const seen = new Promise<void>((r) => markers.push({ port: localPort, seen: r }));
            await new Promise<void>((r) => {
              const sock = net.connect({ port: ports[0]!, host: '127.0.0.1', localPort }, () => sock.end());
              sock.on('error', () => r());
              sock.on('close', () => r());
            });
            const late = setTimeout(() => markers.splice(0).forEach((m) => m.seen()), 120_000);
            await seen;
            clearTimeout(late);
            // SIGTERM (or SIGINT): tshark writes out what it has and exits.
            child.kill('SIGTERM');
            const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            await exited;
            clearTimeout(killer);
          },
        });
      }
    });
  });
}

export interface DissectedFrame {
  frame: number;
  /** iSCSI opcodes of the PDUs in this frame (Wireshark's iscsi.opcode, several when PDUs share a segment). */
  opcodes: number[];
  /** Wireshark's expert messages for the frame. */
  expert: string[];
}

const decodeAs = (ports: number[]): string[] => ports.flatMap((p) => ['-d', `tcp.port==${p},iscsi`]);

/** Fields of the frames matching `filter`, with the given ports decoded as iSCSI. */
export async function frames(file: string, ports: number[], filter: string): Promise<DissectedFrame[]> {
  const r = await run(
    'tshark',
    ['-r', file, ...decodeAs(ports), '-Y', filter, '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=;', '-e', 'frame.number', '-e', 'iscsi.opcode', '-e', '_ws.expert.message'],
    300_000,
  );
  if (r.code !== 0) throw new Error(`tshark -r failed (${r.code}): ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [frame, ops, expert] = l.split('|');
      return {
        frame: Number(frame),
        opcodes: (ops ?? '').split(';').filter(Boolean).map((x) => Number(x)),
        expert: (expert ?? '').split(';').filter(Boolean),
      };
    });
}

/** `tshark -V` of one frame, for a report or a classification. */
export async function frameDetail(file: string, ports: number[], frame: number): Promise<string> {
  const r = await run('tshark', ['-r', file, ...decodeAs(ports), '-Y', `frame.number==${frame}`, '-V'], 120_000);
  return r.stdout;
}

/** The frame's TCP payload, hex. */
export async function framePayload(file: string, frame: number): Promise<string> {
  const r = await run('tshark', ['-r', file, '-Y', `frame.number==${frame}`, '-T', 'fields', '-e', 'tcp.payload'], 120_000);
  return r.stdout.trim();
}
