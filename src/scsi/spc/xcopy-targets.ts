import type { LogicalUnit } from '../logical-unit.js';
import { logicalUnitDesignators } from './vpd.js';
import type { CscdDescriptor } from './xcopy-params.js';

const ASSOC_LOGICAL_UNIT = 0;

/**
 * The LU of this target a CSCD identification descriptor names (by a designator of its VPD 83h),
 * or undefined (another device, or an association other than the logical unit): only
 * same-target copies are offered.
 */
export function findCopyTarget(d: CscdDescriptor, lus: readonly LogicalUnit[]): LogicalUnit | undefined {
  if (d.association !== ASSOC_LOGICAL_UNIT) return undefined;
  return lus.find((lu) => logicalUnitDesignators(lu).some((x) => x.type === d.designatorType && x.value.equals(d.designator)));
}
