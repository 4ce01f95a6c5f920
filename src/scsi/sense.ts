/**
 * Sense data (SPC-4): the one module that turns a sense key + ASC/ASCQ
 * (+ information, + field pointer) into bytes, in fixed (70h) or descriptor (72h) format.
 */

export const SenseKey = {
  NO_SENSE: 0x0,
  RECOVERED_ERROR: 0x1,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6,
  DATA_PROTECT: 0x7,
  BLANK_CHECK: 0x8,
  VENDOR_SPECIFIC: 0x9,
  COPY_ABORTED: 0xa,
  ABORTED_COMMAND: 0xb,
  VOLUME_OVERFLOW: 0xd,
  MISCOMPARE: 0xe,
} as const;

/** Where in the CDB (cd = true) or parameter list the offending field is (SPC-4). */
export interface FieldPointer {
  readonly cd: boolean;
  readonly byte: number;
  /** Most significant bit of the field, 0..7; absent = the whole byte (BPV = 0). */
  readonly bit?: number;
}

export interface SenseData {
  readonly key: number;
  readonly asc: number;
  readonly ascq: number;
  /** INFORMATION field (e.g. the LBA of a medium error); absent = not valid. */
  readonly information?: number;
  readonly fieldPointer?: FieldPointer;
  /**
   * PROGRESS INDICATION (sense-key-specific, NO SENSE / NOT READY): the fraction of a long
   * operation done, 0..65535 of 65536 (a sanitize in progress). Ignored when a field pointer is set.
   */
  readonly progress?: number;
}

export type SenseFormat = 'fixed' | 'descriptor';

export const FIXED_SENSE_LENGTH = 18;
const FIXED_CURRENT = 0x70;
const DESCRIPTOR_CURRENT = 0x72;
const DESC_INFORMATION = 0x00;
const DESC_SENSE_KEY_SPECIFIC = 0x02;

export function buildSense(sense: SenseData, format: SenseFormat): Buffer {
  return format === 'descriptor' ? buildDescriptorSense(sense) : buildFixedSense(sense);
}

/** Fixed format: 18 bytes; the 4-byte INFORMATION field is only VALID when the value fits. */
export function buildFixedSense(sense: SenseData): Buffer {
  const b = Buffer.alloc(FIXED_SENSE_LENGTH);
  const info = sense.information;
  const infoFits = info !== undefined && info >= 0 && info <= 0xffffffff;
  b[0] = FIXED_CURRENT | (infoFits ? 0x80 : 0);
  b[2] = sense.key & 0x0f;
  if (infoFits) b.writeUInt32BE(info, 3);
  b[7] = FIXED_SENSE_LENGTH - 8; // additional sense length
  b[12] = sense.asc;
  b[13] = sense.ascq;
  if (sense.fieldPointer) writeSenseKeySpecific(b, 15, sense.fieldPointer);
  else if (sense.progress !== undefined) writeProgress(b, 15, sense.progress);
  return b;
}

/** Descriptor format: 8-byte header, then an information descriptor and/or a sense-key-specific descriptor. */
export function buildDescriptorSense(sense: SenseData): Buffer {
  const info = sense.information;
  const hasInfo = info !== undefined && info >= 0;
  const hasSks = sense.fieldPointer !== undefined || sense.progress !== undefined;
  const length = 8 + (hasInfo ? 12 : 0) + (hasSks ? 8 : 0);
  const b = Buffer.alloc(length);
  b[0] = DESCRIPTOR_CURRENT;
  b[1] = sense.key & 0x0f;
  b[2] = sense.asc;
  b[3] = sense.ascq;
  b[7] = length - 8;
  let p = 8;
  if (hasInfo) {
    b[p] = DESC_INFORMATION;
    b[p + 1] = 0x0a;
    b[p + 2] = 0x80; // VALID: always one in the descriptor
    b.writeBigUInt64BE(BigInt(info), p + 4);
    p += 12;
  }
  if (hasSks) {
    b[p] = DESC_SENSE_KEY_SPECIFIC;
    b[p + 1] = 0x06;
    if (sense.fieldPointer) writeSenseKeySpecific(b, p + 4, sense.fieldPointer);
    else writeProgress(b, p + 4, sense.progress ?? 0);
  }
  return b;
}

/** The 3-byte field pointer: SKSV | C/D | BPV | bit pointer, then the byte number. */
function writeSenseKeySpecific(b: Buffer, at: number, fp: FieldPointer): void {
  const bpv = fp.bit !== undefined;
  b[at] = 0x80 | (fp.cd ? 0x40 : 0) | (bpv ? 0x08 | ((fp.bit ?? 0) & 0x07) : 0);
  b.writeUInt16BE(fp.byte & 0xffff, at + 1);
}

/** SKSV, then the 16-bit PROGRESS INDICATION. */
function writeProgress(b: Buffer, at: number, progress: number): void {
  b[at] = 0x80;
  b.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.floor(progress))), at + 1);
}

/**
 * NO SENSE and NOT READY carry a progress indication in the sense-key-specific bytes; its first
 * byte is SKSV alone (the rest reserved), so one with C/D or BPV set is read as a field pointer.
 */
function carriesProgress(key: number, flags: number): boolean {
  return (key === SenseKey.NO_SENSE || key === SenseKey.NOT_READY) && flags === 0x80;
}

/** Decode either format (for logs and tests). Returns undefined for anything that is not 70h-73h sense. */
export function parseSense(b: Buffer): SenseData | undefined {
  if (b.length < 8) return undefined;
  const code = b[0] & 0x7f;
  if (code === 0x70 || code === 0x71) {
    if (b.length < 14) return undefined;
    const valid = (b[0] & 0x80) !== 0;
    const key = b[2] & 0x0f;
    const sks = b.length >= 18 ? readSks(b, 15, key) : {};
    return {
      key,
      asc: b[12],
      ascq: b[13],
      ...(valid ? { information: b.readUInt32BE(3) } : {}),
      ...sks,
    };
  }
  if (code === 0x72 || code === 0x73) {
    let information: number | undefined;
    let sks: Pick<SenseData, 'fieldPointer' | 'progress'> = {};
    const key = b[1] & 0x0f;
    const end = Math.min(b.length, 8 + b[7]);
    for (let p = 8; p + 2 <= end; p += 2 + b[p + 1]) {
      if (b[p] === DESC_INFORMATION && p + 12 <= end) information = Number(b.readBigUInt64BE(p + 4));
      if (b[p] === DESC_SENSE_KEY_SPECIFIC && p + 8 <= end) sks = readSks(b, p + 4, key);
    }
    return {
      key,
      asc: b[2],
      ascq: b[3],
      ...(information !== undefined ? { information } : {}),
      ...sks,
    };
  }
  return undefined;
}

function readSks(b: Buffer, at: number, key: number): Pick<SenseData, 'fieldPointer' | 'progress'> {
  if ((b[at] & 0x80) === 0) return {};
  if (carriesProgress(key, b[at]!)) return { progress: b.readUInt16BE(at + 1) };
  const fieldPointer = readSenseKeySpecific(b, at);
  return fieldPointer ? { fieldPointer } : {};
}

function readSenseKeySpecific(b: Buffer, at: number): FieldPointer | undefined {
  const flags = b[at];
  if ((flags & 0x80) === 0) return undefined;
  const byte = b.readUInt16BE(at + 1);
  return (flags & 0x08) !== 0
    ? { cd: (flags & 0x40) !== 0, byte, bit: flags & 0x07 }
    : { cd: (flags & 0x40) !== 0, byte };
}
