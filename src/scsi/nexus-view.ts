/**
 * LUN masking and mapping per I_T nexus (as a node ACL's LUN map in LIO's core): which LUs one
 * initiator port may address, under which LUN, and whether it may write them. A nexus without a
 * view sees every LU under its own number.
 */
import type { TargetInfo } from './handler.js';
import type { LogicalUnit } from './logical-unit.js';

/** What one LUN the initiator uses stands for. */
export interface LunMapping {
  /** The LU's own LUN in the target. */
  readonly lun: number;
  /** Writes through this mapping are refused with DATA PROTECT, WRITE PROTECTED. */
  readonly readOnly: boolean;
}

/** The LUN the initiator uses -> the LU it reaches. */
export type NexusLunView = ReadonlyMap<number, LunMapping>;

/** The views of the nexuses that have one, by nexus id. */
export class NexusViews {
  private readonly views = new Map<number, NexusLunView>();
  /** Reverse maps (target LUN -> initiator LUN), built with each view. */
  private readonly reverse = new Map<number, ReadonlyMap<number, number>>();

  get(nexusId: number): NexusLunView | undefined {
    return this.views.get(nexusId);
  }

  /**
   * Install (a copy of) `view`, or remove the nexus's view with undefined. True when the LUs the
   * nexus addresses, or their numbers, changed (a change of readOnly alone is not one).
   */
  set(nexusId: number, view: NexusLunView | undefined): boolean {
    const before = this.views.get(nexusId);
    if (view === undefined) {
      this.views.delete(nexusId);
      this.reverse.delete(nexusId);
    } else {
      const copy = new Map(view);
      this.views.set(nexusId, copy);
      this.reverse.set(nexusId, new Map([...copy].map(([initiatorLun, m]) => [m.lun, initiatorLun])));
    }
    return !sameLuns(before, view);
  }

  /**
   * The target's LUN that `lun`, as nexus `nexusId` uses it, reaches: itself without a view;
   * undefined when masked. A number, not a mapping: this runs for every command.
   */
  targetLun(nexusId: number, lun: number): number | undefined {
    const view = this.views.get(nexusId);
    return view ? view.get(lun)?.lun : lun;
  }

  /** The number nexus `nexusId` uses for the target's LUN `lun`; undefined when it cannot address it. */
  initiatorLun(nexusId: number, lun: number): number | undefined {
    const reverse = this.reverse.get(nexusId);
    return reverse ? reverse.get(lun) : lun;
  }
}

function sameLuns(a: NexusLunView | undefined, b: NexusLunView | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.size !== b.size) return false;
  for (const [lun, m] of a) if (b.get(lun)?.lun !== m.lun) return false;
  return true;
}

/**
 * What a handler may know of the target as a nexus with `view` sees it: REPORT LUNS lists the
 * numbers it uses (of LUs that exist now), EXTENDED COPY reaches only LUs it may address, and
 * read-only mappings protect their LUs. `lookup` is the target's live LU inventory.
 */
export function viewTargetInfo(base: TargetInfo, view: NexusLunView, lookup: (lun: number) => LogicalUnit | undefined): TargetInfo {
  const visible = (): [number, LogicalUnit, LunMapping][] => {
    const out: [number, LogicalUnit, LunMapping][] = [];
    for (const [initiatorLun, m] of view) {
      const lu = lookup(m.lun);
      if (lu) out.push([initiatorLun, lu, m]);
    }
    return out;
  };
  return {
    targetName: base.targetName,
    protocolId: base.protocolId,
    deviceType: base.deviceType,
    get lunNumbers() {
      return visible()
        .map(([initiatorLun]) => initiatorLun)
        .sort((a, b) => a - b);
    },
    get logicalUnits() {
      return visible().map(([, lu]) => lu);
    },
    mappedReadOnly: (lu) => visible().some(([, seen, m]) => seen === lu && m.readOnly),
  };
}
