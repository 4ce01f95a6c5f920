import { asciiField } from '../cdb.js';
import type { LogicalUnit } from '../logical-unit.js';
import type { CscdDescriptor } from './xcopy-params.js';

const TYPE_T10_VENDOR_ID = 1;
const TYPE_NAA = 3;
const ASSOC_LOGICAL_UNIT = 0;

/** The LU designators this target publishes in VPD 83h that a CSCD descriptor may carry. */
function designatorsOf(lu: LogicalUnit): { type: number; value: Buffer }[] {
  const serial = Buffer.from(lu.serial.replace(/[^\x20-\x7e]/g, '?'), 'ascii');
  return [
    { type: TYPE_NAA, value: lu.naaId },
    { type: TYPE_T10_VENDOR_ID, value: Buffer.concat([asciiField(lu.vendor, 8), serial]) },
  ];
}

/**
 * The LU of this target a CSCD identification descriptor names, or undefined (another device,
 * or an association other than the logical unit): only same-target copies are offered.
 */
export function findCopyTarget(d: CscdDescriptor, lus: readonly LogicalUnit[]): LogicalUnit | undefined {
  if (d.association !== ASSOC_LOGICAL_UNIT) return undefined;
  return lus.find((lu) => designatorsOf(lu).some((x) => x.type === d.designatorType && x.value.equals(d.designator)));
}
