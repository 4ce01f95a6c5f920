/**
 * Target PDUs that are correct iSCSI / SCSI but that Wireshark 4.0's dissectors flag as
 * malformed. Each is recognised from the frame's bytes and the dissection, precisely, so that
 * anything else flagged stays a failure.
 */
import { frameDetail } from './tshark.js';

export interface FlaggedFrame {
  frame: number;
  /** TCP payload of the frame (hex). */
  payload: string;
  /** `tshark -V` of the frame. */
  detail: string;
}

/** The one PDU a frame carries: BHS, data after the header digest, or undefined if the frame is not exactly one PDU. */
function onePdu(f: FlaggedFrame): { bhs: Buffer; data: Buffer } | undefined {
  const bytes = Buffer.from(f.payload, 'hex');
  if (bytes.length < 48) return undefined;
  const bhs = bytes.subarray(0, 48);
  const dsl = (bhs[5]! << 16) | (bhs[6]! << 8) | bhs[7]!;
  const hd = /\n\s+HeaderDigest: /.test(f.detail) ? 4 : 0;
  const dd = dsl > 0 && /\n\s+DataDigest: /.test(f.detail) ? 4 : 0;
  const total = 48 + bhs[4]! * 4 + hd + ((dsl + 3) & ~3) + dd;
  if (bhs[4] !== 0 || bytes.length !== total) return undefined;
  return { bhs, data: bytes.subarray(48 + hd, 48 + hd + dsl) };
}

const malformedLayer = (detail: string): string[] => [...detail.matchAll(/\[Malformed Packet: ([^\]]+)\]/g)].map((m) => m[1]!);

/**
 * A Text or Login Response that continues its text in the next PDU (C=1, F/T=0), cut in the
 * middle of a key=value pair as RFC 7143 §11.11.2 / §11.13.2 allow: Wireshark's key/value
 * parser wants every pair NUL-terminated within the PDU.
 */
export function isTextSplitMidKey(f: FlaggedFrame): boolean {
  const p = onePdu(f);
  if (!p) return false;
  const op = p.bhs[0]! & 0x3f;
  const continues = (p.bhs[1]! & 0xc0) === 0x40;
  return (op === 0x24 || op === 0x23) && continues && p.data.length > 0 && p.data[p.data.length - 1] !== 0 && malformedLayer(f.detail).every((l) => l === 'iSCSI');
}

/**
 * The GOOD Data-In of an INQUIRY whose answer was cut at the allocation length (SPC-4 §4.2.5.6:
 * the target returns min(allocation length, available) and the length field still says how
 * much there is; libiscsi asks for 64 bytes first). Wireshark's SCSI dissector (not iSCSI's)
 * then reads past the data. Checked against the request: EDTL = allocation length = data.
 */
export async function isInquiryCutAtAllocationLength(f: FlaggedFrame, file: string, ports: number[]): Promise<boolean> {
  const p = onePdu(f);
  if (!p) return false;
  const goodDataInWithStatus = (p.bhs[0]! & 0x3f) === 0x25 && (p.bhs[1]! & 0x01) === 1 && p.bhs[3] === 0;
  if (!goodDataInWithStatus || !/SBC Opcode: Inquiry \(0x12\)/.test(f.detail)) return false;
  const layers = malformedLayer(f.detail);
  if (layers.length === 0 || !layers.every((l) => l === 'SCSI')) return false;
  const request = /\n\s+\[?Request in: (\d+)\]?/.exec(f.detail);
  if (!request) return false;
  const req = await frameDetail(file, ports, Number(request[1]));
  const alloc = /Allocation Length: (\d+)/.exec(req);
  const edtl = /ExpectedDataTransferLength: (\d+)/.exec(req);
  if (!alloc || !edtl || Number(alloc[1]) !== p.data.length || Number(edtl[1]) !== p.data.length) return false;
  const evpd = /EVPD = 1/.test(req);
  if (p.data.length < (evpd ? 4 : 5)) return false;
  const announced = evpd ? p.data.readUInt16BE(2) + 4 : p.data[4]! + 5;
  return announced > p.data.length;
}
