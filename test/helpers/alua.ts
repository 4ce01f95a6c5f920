/** REPORT TARGET PORT GROUPS for tests: the CDB, and the descriptors of its answer. */

export function rtpg(allocation: number, extended = false): Buffer {
  const c = Buffer.alloc(12);
  c[0] = 0xa3;
  c[1] = (extended ? 0x20 : 0) | 0x0a;
  c.writeUInt32BE(allocation, 6);
  return c;
}

/** (group id, state, port ids) of each descriptor of length-only RTPG data. */
export function groupsOf(d: Buffer): [number, number, number[]][] {
  const out: [number, number, number[]][] = [];
  const end = 4 + d.readUInt32BE(0);
  for (let at = 4; at + 8 <= end; ) {
    const count = d[at + 7]!;
    const ports = Array.from({ length: count }, (_, k) => d.readUInt16BE(at + 8 + 4 * k + 2));
    out.push([d.readUInt16BE(at + 2), d[at]! & 0x0f, ports]);
    at += 8 + 4 * count;
  }
  return out;
}

/** PREF bit of each descriptor, by group id. */
export function preferredOf(d: Buffer): Map<number, boolean> {
  const out = new Map<number, boolean>();
  const end = 4 + d.readUInt32BE(0);
  for (let at = 4; at + 8 <= end; ) {
    out.set(d.readUInt16BE(at + 2), (d[at]! & 0x80) !== 0);
    at += 8 + 4 * d[at + 7]!;
  }
  return out;
}
