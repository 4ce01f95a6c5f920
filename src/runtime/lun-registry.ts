import type { DeviceState } from '../block/health.js';
import type { BlockQueue } from '../block/queue.js';
import type { BackstoreConfig } from '../config/schema.js';
import type { LogicalUnit } from '../scsi/logical-unit.js';

/** Where a LUN's data lives, as configured. */
export interface LunBackstoreInfo {
  readonly type: BackstoreConfig['type'];
  /** The backing file or device; none for null. */
  readonly path: string | undefined;
}

/** One LUN of a running target. */
export interface LunEntry {
  /** The target's IQN as configured. */
  readonly target: string;
  readonly lun: number;
  /** The LU the SCSI core serves. */
  readonly unit: LogicalUnit;
  /** The block queue over its backstore; undefined when the storage could not be opened (the LU answers NOT READY). */
  readonly queue: BlockQueue | undefined;
  readonly backstore: LunBackstoreInfo;
}

/** serving, offline (a fault of the medium, or storage that could not be opened), writeback_failed (see DeviceHealth). */
export type LunState = DeviceState;
/** The states a reload acts on. */
export type LunFault = Exclude<LunState, 'serving'>;

/** The LUN's state now, read from its LU's device health. */
export function lunState(entry: LunEntry): LunState {
  return entry.unit.device.health?.state ?? 'serving';
}

/**
 * Every LUN of the running targets, by target and LUN number: what start-up opened, kept up to
 * date by live LUN changes (LiveLuns), read by the metrics and the config reload (and the admin
 * plane next). IQNs compare case-insensitively, as in TargetRegistry.
 */
export class LunRegistry {
  private readonly byTarget = new Map<string, Map<number, LunEntry>>();

  get(target: string, lun: number): LunEntry | undefined {
    return this.byTarget.get(target.toLowerCase())?.get(lun);
  }

  /** Adds the entry, or replaces the one with the same target and LUN. */
  set(entry: LunEntry): void {
    const key = entry.target.toLowerCase();
    let luns = this.byTarget.get(key);
    if (!luns) {
      luns = new Map();
      this.byTarget.set(key, luns);
    }
    luns.set(entry.lun, entry);
  }

  /** Takes the entry out and returns it (undefined: there was none). */
  delete(target: string, lun: number): LunEntry | undefined {
    const luns = this.byTarget.get(target.toLowerCase());
    const entry = luns?.get(lun);
    luns?.delete(lun);
    return entry;
  }

  /** Every entry: target by target in the order they were added, each target's LUNs ascending (as REPORT LUNS lists them). */
  *all(): IterableIterator<LunEntry> {
    for (const luns of this.byTarget.values()) yield* [...luns.values()].sort((a, b) => a.lun - b.lun);
  }

  /** The LUN's fault, undefined while it serves normally (or does not exist). */
  faultOf(target: string, lun: number): LunFault | undefined {
    const entry = this.get(target, lun);
    const state = entry ? lunState(entry) : 'serving';
    return state === 'serving' ? undefined : state;
  }

  /** Closes every opened LUN's queue (its backstore flushes and closes); failures are the callers' to log. */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.all()].flatMap((e) => (e.queue ? [e.queue.close()] : [])));
  }
}
