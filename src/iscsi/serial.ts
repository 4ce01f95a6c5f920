/** Serial number arithmetic on 32-bit sequence numbers (RFC 1982), as CmdSN/StatSN/DataSN need. */
export function snLess(a: number, b: number): boolean {
  return a !== b && ((b - a) >>> 0) < 0x80000000;
}

export function snLessOrEqual(a: number, b: number): boolean {
  return a === b || snLess(a, b);
}

export function snAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
