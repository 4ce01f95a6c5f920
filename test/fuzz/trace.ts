/** A case's conversation, one line per PDU, printed when the case fails so that it can be read and replayed. */
import { NO_TAG, Opcode, dslOf, ittOf, opOf, opcodeName } from './wire.js';

/** Lines kept from the start of a case and from its end (the middle of a long case is dropped). */
const HEAD_LINES = 300;
const TAIL_LINES = 150;

const hex32 = (n: number): string => (n === NO_TAG ? 'ffffffff' : n.toString(16));

/** The fields that matter for each opcode, in words. */
export function describeBhs(b: Buffer): string {
  if (b.length < 48) return `short header (${b.length} bytes) ${b.toString('hex')}`;
  const op = opOf(b);
  const imm = (b[0]! & 0x40) !== 0 ? ' I' : '';
  const f = b[1]!;
  const dsl = dslOf(b);
  const itt = hex32(ittOf(b));
  const w20 = hex32(b.readUInt32BE(20));
  const w24 = b.readUInt32BE(24);
  const w28 = b.readUInt32BE(28);
  const w32 = b.readUInt32BE(32);
  const w36 = b.readUInt32BE(36);
  const w40 = b.readUInt32BE(40);
  const w44 = b.readUInt32BE(44);
  const ahs = b[4] ? ` ahs=${b[4] * 4}` : '';
  const name = opcodeName(op);
  switch (op) {
    case Opcode.SCSI_CMD:
      return `${name}${imm} F=${f >> 7} R=${(f >> 6) & 1} W=${(f >> 5) & 1} attr=${f & 7} lun=${b.readUInt16BE(8).toString(16)} itt=${itt} edtl=${b.readUInt32BE(20)} cmdsn=${w24} dsl=${dsl}${ahs} cdb=${b.subarray(32, 48).toString('hex')}`;
    case Opcode.DATA_OUT:
      return `${name} F=${f >> 7} itt=${itt} ttt=${w20} datasn=${w36} off=${w40} dsl=${dsl}`;
    case Opcode.NOP_OUT:
    case Opcode.NOP_IN:
      return `${name}${imm} itt=${itt} ttt=${w20} sn=${w24} exp=${w28} dsl=${dsl}`;
    case Opcode.TMF_REQ:
      return `${name}${imm} fn=${f & 0x7f} lun=${b.readUInt16BE(8).toString(16)} itt=${itt} ref=${w20} cmdsn=${w24} refcmdsn=${w32}`;
    case Opcode.LOGIN_REQ:
    case Opcode.LOGIN_RSP:
      return `${name} T=${f >> 7} C=${(f >> 6) & 1} CSG=${(f >> 2) & 3} NSG=${f & 3} ver=${b[2]}/${b[3]} isid=${b.subarray(8, 14).toString('hex')} tsih=${b.readUInt16BE(14)} itt=${itt} cid=${b.readUInt16BE(20)} sn=${w24}${op === Opcode.LOGIN_RSP ? ` status=${b[36]!.toString(16).padStart(2, '0')}${b[37]!.toString(16).padStart(2, '0')}` : ''} dsl=${dsl}`;
    case Opcode.TEXT_REQ:
    case Opcode.TEXT_RSP:
      return `${name}${imm} F=${f >> 7} C=${(f >> 6) & 1} itt=${itt} ttt=${w20} sn=${w24} dsl=${dsl}`;
    case Opcode.LOGOUT_REQ:
      return `${name}${imm} reason=${f & 0x7f} itt=${itt} cid=${b.readUInt16BE(20)} cmdsn=${w24}`;
    case Opcode.SNACK:
      return `${name} type=${f & 0xf} itt=${itt} ttt=${w20} begrun=${w40} runlen=${w44}`;
    case Opcode.SCSI_RSP:
      return `${name} flags=${f.toString(16)} resp=${b[2]} status=${b[3]!.toString(16)} itt=${itt} statsn=${w24} exp=${w28} max=${w32} expdatasn=${w36} resid=${w44} dsl=${dsl}`;
    case Opcode.DATA_IN:
      return `${name} F=${f >> 7} S=${f & 1} status=${b[3]!.toString(16)} itt=${itt} statsn=${w24} datasn=${w36} off=${w40} resid=${w44} dsl=${dsl}`;
    case Opcode.R2T:
      return `${name} itt=${itt} ttt=${w20} statsn=${w24} r2tsn=${w36} off=${w40} len=${w44}`;
    case Opcode.TMF_RSP:
      return `${name} response=${b[2]} itt=${itt} statsn=${w24}`;
    case Opcode.LOGOUT_RSP:
      return `${name} response=${b[2]} itt=${itt} statsn=${w24}`;
    case Opcode.REJECT:
      return `${name} reason=${b[2]!.toString(16)} statsn=${w24} exp=${w28} dsl=${dsl}`;
    case Opcode.ASYNC:
      return `${name} event=${b[36]} statsn=${w24}`;
    default:
      return `${name}${imm} b1=${f.toString(16)} itt=${itt} dsl=${dsl} bhs=${b.toString('hex')}`;
  }
}

export class Trace {
  private readonly lines: string[] = [];
  private readonly tail: string[] = [];
  private dropped = 0;
  private readonly start = Date.now();
  /** PDUs sent in the case (counted even when the trace is full). */
  sentCount = 0;

  constructor(readonly label: string) {}

  add(line: string): void {
    const stamped = `${String(Date.now() - this.start).padStart(6)}ms ${line}`;
    if (this.lines.length < HEAD_LINES) {
      this.lines.push(stamped);
      return;
    }
    this.tail.push(stamped);
    if (this.tail.length > TAIL_LINES) {
      this.tail.shift();
      this.dropped++;
    }
  }

  sent(bhs: Buffer, extra = ''): void {
    this.sentCount++;
    this.add(`> ${describeBhs(bhs)}${extra}`);
  }

  received(bhs: Buffer, extra = ''): void {
    this.add(`< ${describeBhs(bhs)}${extra}`);
  }

  text(): string {
    return [...this.lines, ...(this.dropped > 0 ? [`     ... ${this.dropped} lines left out ...`] : []), ...this.tail].join('\n');
  }
}

/** Text keys for a trace line, shortened. */
export function textSummary(data: Buffer, max = 160): string {
  const s = data.toString('latin1').replace(/\0/g, ' | ');
  return s.length > max ? `${s.slice(0, max)}... (${data.length} bytes)` : s;
}
