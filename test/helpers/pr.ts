/** CDB and parameter list builders for RESERVE/RELEASE and PERSISTENT RESERVE IN/OUT (SPC-4). */

export const PR_IN = 0x5e;
export const PR_OUT = 0x5f;

export const SA = {
  REGISTER: 0,
  RESERVE: 1,
  RELEASE: 2,
  CLEAR: 3,
  PREEMPT: 4,
  PREEMPT_AND_ABORT: 5,
  REGISTER_AND_IGNORE: 6,
  REGISTER_AND_MOVE: 7,
} as const;

export const IN = { READ_KEYS: 0, READ_RESERVATION: 1, REPORT_CAPABILITIES: 2, READ_FULL_STATUS: 3 } as const;

export const TYPES = { WE: 1, EA: 3, WE_RO: 5, EA_RO: 6, WE_AR: 7, EA_AR: 8 } as const;

export function prInCdb(sa: number, allocation = 4096): Buffer {
  const c = Buffer.alloc(10);
  c[0] = PR_IN;
  c[1] = sa;
  c.writeUInt16BE(allocation, 7);
  return c;
}

export function prOutCdb(sa: number, type = 0, length = 24, scope = 0): Buffer {
  const c = Buffer.alloc(10);
  c[0] = PR_OUT;
  c[1] = sa;
  c[2] = (scope << 4) | type;
  c.writeUInt32BE(length, 5);
  return c;
}

export interface ParamFlags {
  aptpl?: boolean;
  allTgPt?: boolean;
  specIPt?: boolean;
}

export function prOutParams(key: bigint, sark: bigint, f: ParamFlags = {}): Buffer {
  const p = Buffer.alloc(24);
  p.writeBigUInt64BE(key, 0);
  p.writeBigUInt64BE(sark, 8);
  p[20] = (f.specIPt ? 0x08 : 0) | (f.allTgPt ? 0x04 : 0) | (f.aptpl ? 0x01 : 0);
  return p;
}

/** REGISTER AND MOVE parameter list with a format 01b iSCSI TransportID for `initiatorPort`. */
export function moveParams(key: bigint, sark: bigint, initiatorPort: string, relTgtPort: number, unreg = false, aptpl = false): Buffer {
  const name = Buffer.from(initiatorPort);
  const additional = Math.max(20, Math.ceil((name.length + 1) / 4) * 4);
  const tid = Buffer.alloc(4 + additional);
  tid[0] = 0x45;
  tid.writeUInt16BE(additional, 2);
  name.copy(tid, 4);
  const p = Buffer.alloc(24);
  p.writeBigUInt64BE(key, 0);
  p.writeBigUInt64BE(sark, 8);
  p[17] = (unreg ? 0x02 : 0) | (aptpl ? 0x01 : 0);
  p.writeUInt16BE(relTgtPort, 18);
  p.writeUInt32BE(tid.length, 20);
  return Buffer.concat([p, tid]);
}

export function reserve6(): Buffer {
  return Buffer.from([0x16, 0, 0, 0, 0, 0]);
}

export function release6(): Buffer {
  return Buffer.from([0x17, 0, 0, 0, 0, 0]);
}

export function reserve10(): Buffer {
  return Buffer.from([0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
}

export function release10(): Buffer {
  return Buffer.from([0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** READ KEYS data: generation and keys. */
export function parseReadKeys(d: Buffer): { generation: number; keys: bigint[] } {
  const n = d.readUInt32BE(4) / 8;
  const keys: bigint[] = [];
  for (let i = 0; i < n; i++) keys.push(d.readBigUInt64BE(8 + i * 8));
  return { generation: d.readUInt32BE(0), keys };
}

/** READ RESERVATION data: undefined when there is no reservation. */
export function parseReadReservation(d: Buffer): { generation: number; key: bigint; type: number } | undefined {
  if (d.readUInt32BE(4) === 0) return undefined;
  return { generation: d.readUInt32BE(0), key: d.readBigUInt64BE(8), type: d[21]! & 0x0f };
}
