/**
 * iSCSI TransportIDs (SPC-4 7.6.4.6): protocol identifier 5h; format 00b names an initiator
 * device, format 01b an initiator port ("<iSCSI name>,i,0x<ISID>"). The name is NUL-terminated
 * and padded so the ADDITIONAL LENGTH is a multiple of four and at least 20.
 */
export const PROTOCOL_ID_ISCSI = 0x5;
const FORMAT_PORT = 0x1;
const MIN_ADDITIONAL = 20;

/** Format 01b TransportID for an initiator port name as the transport spells it. */
export function encodeIscsiTransportId(initiatorPort: string): Buffer {
  const name = Buffer.from(initiatorPort, 'utf8');
  const additional = Math.max(MIN_ADDITIONAL, Math.ceil((name.length + 1) / 4) * 4);
  const b = Buffer.alloc(4 + additional);
  b[0] = (FORMAT_PORT << 6) | PROTOCOL_ID_ISCSI;
  b.writeUInt16BE(additional, 2);
  name.copy(b, 4);
  return b;
}

export type DecodedTransportId =
  | { readonly ok: true; readonly initiatorPort: string; readonly length: number }
  | { readonly ok: false; /** Byte of the TransportID at fault. */ readonly byte: number };

/** Reads a format 01b iSCSI TransportID at the start of `b`; anything else is refused. */
export function decodeIscsiTransportId(b: Buffer): DecodedTransportId {
  if (b.length < 4) return { ok: false, byte: 0 };
  if ((b[0]! & 0x0f) !== PROTOCOL_ID_ISCSI || b[0]! >> 6 !== FORMAT_PORT) return { ok: false, byte: 0 };
  const additional = b.readUInt16BE(2);
  if (additional % 4 !== 0 || 4 + additional > b.length) return { ok: false, byte: 2 };
  const body = b.subarray(4, 4 + additional);
  const nul = body.indexOf(0);
  const text = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
  const m = /^(.+),i,0x([0-9a-f]{12})$/i.exec(text);
  if (nul < 0 || !m) return { ok: false, byte: 4 };
  return { ok: true, initiatorPort: `${m[1]!},i,0x${m[2]!.toLowerCase()}`, length: 4 + additional };
}
