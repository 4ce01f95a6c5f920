/**
 * The 8-byte LUN field (SAM-5 §4.7). We use peripheral addressing for LUNs < 256
 * and flat addressing above, as Linux and LIO do; decoding accepts both.
 */
export function decodeLun(field: Buffer, offset = 0): number {
  const b0 = field[offset]!;
  const b1 = field[offset + 1]!;
  const method = b0 >> 6;
  if (method === 0) return b1 | ((b0 & 0x3f) << 8); // peripheral: bus id in b0 low bits (0 expected)
  if (method === 1) return ((b0 & 0x3f) << 8) | b1; // flat space
  return -1; // logical unit / extended addressing: not a LUN we serve
}

export function encodeLun(lun: number, target: Buffer, offset = 0): void {
  target.fill(0, offset, offset + 8);
  if (lun < 256) {
    target[offset + 1] = lun;
  } else {
    target[offset] = 0x40 | ((lun >> 8) & 0x3f);
    target[offset + 1] = lun & 0xff;
  }
}
