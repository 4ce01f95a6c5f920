import type { LogicalUnit } from '../logical-unit.js';

/** PAGE CONTROL values we answer (11b, saved values, is refused: nothing is saved). */
export type PageControl = 'current' | 'changeable' | 'default';

export interface ModePage {
  readonly code: number;
  build(lu: LogicalUnit, pc: PageControl): Buffer;
  /** MODE SELECT: take the changeable fields of a checked page (same length as `build`'s). */
  apply(lu: LogicalUnit, page: Buffer): void;
}

export const MODE_PAGE_CACHING = 0x08;
export const MODE_PAGE_CONTROL = 0x0a;
export const MODE_PAGE_ALL = 0x3f;

const WCE = 0x04;
const D_SENSE = 0x04;
const SWP = 0x08;

/**
 * Caching mode page (SBC-3), 20 bytes. WCE is the only field that means anything, and the only
 * changeable one; PS = 0 since nothing is saved.
 */
function caching(lu: LogicalUnit, pc: PageControl): Buffer {
  const b = Buffer.alloc(20);
  b[0] = MODE_PAGE_CACHING;
  b[1] = b.length - 2;
  const wce = pc === 'current' ? lu.writeCacheEnabled : pc === 'default' ? lu.defaultWriteCache : true;
  if (wce) b[2] = WCE;
  return b;
}

function applyCaching(lu: LogicalUnit, page: Buffer): void {
  lu.setWriteCacheEnabled((page[2]! & WCE) !== 0);
}

/**
 * Control mode page (SPC-4), 12 bytes: TST 000b (one task set shared by all nexuses),
 * D_SENSE, QUEUE ALGORITHM MODIFIER 1 (SIMPLE tasks may be reordered), QERR 00b,
 * TAS = 1 (tasks aborted for another nexus end with TASK ABORTED), BUSY TIMEOUT unlimited.
 * D_SENSE and SWP (software write protect) are changeable.
 */
function control(lu: LogicalUnit, pc: PageControl): Buffer {
  const b = Buffer.alloc(12);
  b[0] = MODE_PAGE_CONTROL;
  b[1] = b.length - 2;
  if (pc === 'changeable') {
    b[2] = D_SENSE;
    b[4] = SWP;
    return b;
  }
  if (pc === 'current' && lu.descriptorSense) b[2] = D_SENSE;
  b[3] = 0x10;
  if (pc === 'current' && lu.softwareWriteProtect) b[4] = SWP;
  b[5] = 0x40;
  b.writeUInt16BE(0xffff, 8);
  return b;
}

function applyControl(lu: LogicalUnit, page: Buffer): void {
  lu.descriptorSense = (page[2]! & D_SENSE) !== 0;
  lu.softwareWriteProtect = (page[4]! & SWP) !== 0;
}

/** Ascending page codes: the order of the "all pages" answer. */
export const MODE_PAGES: readonly ModePage[] = [
  { code: MODE_PAGE_CACHING, build: caching, apply: applyCaching },
  { code: MODE_PAGE_CONTROL, build: control, apply: applyControl },
];
