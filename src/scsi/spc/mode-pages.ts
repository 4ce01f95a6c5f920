import type { LogicalUnit } from '../logical-unit.js';

/** PAGE CONTROL values we answer (11b, saved values, is refused: nothing is saved). */
export type PageControl = 'current' | 'changeable' | 'default';

export interface ModePage {
  readonly code: number;
  build(lu: LogicalUnit, pc: PageControl): Buffer;
}

export const MODE_PAGE_CACHING = 0x08;
export const MODE_PAGE_CONTROL = 0x0a;
export const MODE_PAGE_ALL = 0x3f;

/**
 * Caching mode page (SBC-3), 20 bytes. WCE is the only field that means anything;
 * nothing is reported changeable until MODE SELECT exists, and PS = 0 since nothing is saved.
 */
function caching(lu: LogicalUnit, pc: PageControl): Buffer {
  const b = Buffer.alloc(20);
  b[0] = MODE_PAGE_CACHING;
  b[1] = b.length - 2;
  const wce = pc === 'current' ? lu.writeCacheEnabled : pc === 'default' ? lu.defaultWriteCache : false;
  if (wce) b[2] = 0x04;
  return b;
}

/**
 * Control mode page (SPC-4), 12 bytes: TST 000b (one task set shared by all nexuses),
 * D_SENSE, QUEUE ALGORITHM MODIFIER 1 (SIMPLE tasks may be reordered), QERR 00b,
 * TAS = 1 (tasks aborted for another nexus end with TASK ABORTED), BUSY TIMEOUT unlimited.
 */
function control(lu: LogicalUnit, pc: PageControl): Buffer {
  const b = Buffer.alloc(12);
  b[0] = MODE_PAGE_CONTROL;
  b[1] = b.length - 2;
  if (pc === 'changeable') return b;
  if (pc === 'current' && lu.descriptorSense) b[2] = 0x04;
  b[3] = 0x10;
  b[5] = 0x40;
  b.writeUInt16BE(0xffff, 8);
  return b;
}

/** Ascending page codes: the order of the "all pages" answer. */
export const MODE_PAGES: readonly ModePage[] = [
  { code: MODE_PAGE_CACHING, build: caching },
  { code: MODE_PAGE_CONTROL, build: control },
];
