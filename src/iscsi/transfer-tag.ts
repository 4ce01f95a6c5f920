let nextTtt = 1;

/**
 * A Target Transfer Tag for an R2T or a continued Text exchange: 1..0x7ffffffe, never the reserved
 * 0xffffffff. Process-wide, so a tag is not reused while a recent one of any session may be live.
 */
export function allocTtt(): number {
  nextTtt = nextTtt >= 0x7ffffffe ? 1 : nextTtt + 1;
  return nextTtt;
}
