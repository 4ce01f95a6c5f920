/** What a pcap holds, read by tshark: the initiators' byte streams, and the iSCSI PDUs as Wireshark dissects them. */
import { tsharkRead } from './capture.js';

/** A dissected layer: tshark's JSON fields (values are strings; subtrees are objects). */
export type Fields = Record<string, unknown>;

export interface DissectedPdu {
  /** tshark's TCP stream index (one per connection). */
  stream: number;
  fromInitiator: boolean;
  frame: number;
  /** The iscsi layer of this PDU. */
  iscsi: Fields;
  /** The scsi layer(s) of its frame, when the frame carries only this PDU (else unknown which PDU they belong to). */
  scsi: Fields[];
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** tshark's options for iSCSI on `port` (not the well-known 3260). */
const iscsiOn = (port: number): string[] => ['-o', `iscsi.target_ports:${port}`];

/** Each connection's bytes from the initiator to the target on `port`, in TCP sequence order, keyed by tshark's stream index. */
export async function initiatorStreams(file: string, port: number): Promise<Map<number, Buffer>> {
  const r = await tsharkRead(file, [
    ...iscsiOn(port),
    '-Y',
    `tcp.dstport == ${port} && tcp.len > 0`,
    '-T',
    'fields',
    '-e',
    'tcp.stream',
    '-e',
    'tcp.seq_raw',
    '-e',
    'tcp.payload',
  ]);
  if (r.code !== 0) throw new Error(`tshark: ${r.stderr}`);
  const segments = new Map<number, { seq: number; bytes: Buffer }[]>();
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [stream, seq, payload] = line.split('\t');
    const list = segments.get(Number(stream)) ?? [];
    list.push({ seq: Number(seq), bytes: Buffer.from(payload!.replace(/:/g, ''), 'hex') });
    segments.set(Number(stream), list);
  }
  const streams = new Map<number, Buffer>();
  for (const [stream, list] of segments) {
    // Sequence numbers relative to the first segment (they wrap at 2^32); retransmitted bytes are skipped.
    const base = list[0]!.seq;
    const ordered = list.map((s) => ({ at: (s.seq - base) >>> 0, bytes: s.bytes })).sort((a, b) => a.at - b.at);
    const parts: Buffer[] = [];
    let next = 0;
    for (const s of ordered) {
      if (s.at > next) throw new Error(`stream ${stream}: ${s.at - next} bytes missing from the capture at ${next}`);
      if (s.at + s.bytes.length <= next) continue;
      parts.push(s.bytes.subarray(next - s.at));
      next = s.at + s.bytes.length;
    }
    streams.set(stream, Buffer.concat(parts));
  }
  return streams;
}

/** Every iSCSI PDU in the capture as tshark's iSCSI dissector sees it, in order. */
export async function dissectedPdus(file: string, port: number): Promise<DissectedPdu[]> {
  // Two passes (-2) so that PDUs spread over several segments are dissected whole.
  const r = await tsharkRead(file, [...iscsiOn(port), '-2', '-Y', 'iscsi', '-T', 'json', '--no-duplicate-keys', '-J', 'frame tcp iscsi scsi']);
  if (r.code !== 0) throw new Error(`tshark: ${r.stderr}`);
  const frames = JSON.parse(r.stdout) as { _source: { layers: Record<string, Fields | Fields[]> } }[];
  const pdus: DissectedPdu[] = [];
  for (const f of frames) {
    const layers = f._source.layers;
    const tcp = asArray(layers.tcp)[0]!;
    const frame = Number(asArray(layers.frame)[0]!['frame.number']);
    const iscsi = asArray(layers.iscsi);
    const scsi = asArray(layers.scsi);
    for (const layer of iscsi) {
      pdus.push({
        stream: Number(tcp['tcp.stream']),
        fromInitiator: Number(tcp['tcp.dstport']) === port,
        frame,
        iscsi: layer,
        scsi: iscsi.length === 1 ? scsi : [],
      });
    }
  }
  return pdus;
}

/** A numeric field ("0x1972d8f5" or "262144") as a number; undefined when absent. */
export function num(fields: Fields, name: string): number | undefined {
  const v = fields[name];
  return typeof v === 'string' ? Number(v) : undefined;
}
