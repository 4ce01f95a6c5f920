import type { AtomicJournal } from '../block/atomic-journal.js';
import type { BlockDevice } from '../block/device.js';
import { errnoOf } from './errors.js';
import { ReservationState } from './pr/state.js';
import type { LuSharing } from './lu-sharing.js';
import type { AnyReservationStore } from './pr/types.js';
import { RangeLock } from './range-lock.js';
import { RemovableMedium } from './sbc/removable.js';
import { SanitizeState, type SanitizeChange } from './sbc/sanitize-state.js';
import { abortAll } from './task-management.js';
import { TaskSet } from './task-set.js';
import type { Task } from './task.js';
import { UnitAttentions } from './unit-attention.js';
import type { SanitizeMarker } from './sbc/sanitize-marker.js';

export interface LogicalUnitConfig {
  /** 0..16383: what REPORT LUNS can express with peripheral / flat space addressing. */
  lun: number;
  device: BlockDevice;
  readOnly: boolean;
  writeCacheEnabled: boolean;
  /** INQUIRY T10 VENDOR IDENTIFICATION, 8 ASCII characters (default 'SCATTER '). */
  vendor?: string;
  /** INQUIRY PRODUCT IDENTIFICATION, 16 ASCII characters. */
  product?: string;
  /** INQUIRY PRODUCT REVISION LEVEL, 4 ASCII characters. */
  revision?: string;
  /** VPD 80h unit serial number (ASCII). */
  serial: string;
  /** 16-byte NAA 6h designator, stable across restarts (see `deriveNaaId`). */
  naaId: Buffer;
  /** For the VPD 83h SCSI name string of the target device. */
  targetName: string;
  /** Backstore hook for MODE SELECT of the caching page (WCE). */
  setWriteCache?: (enabled: boolean) => void;
  /** Removable medium (INQUIRY RMB): START STOP UNIT ejects / loads, PREVENT ALLOW is honoured. */
  removable?: boolean;
  /** Thin provisioned (LBPME): UNMAP, WRITE SAME with UNMAP and GET LBA STATUS deallocate / report via the device. */
  thin?: boolean;
  /** MAXIMUM TRANSFER LENGTH in logical blocks (VPD B0h); larger READ/WRITEs are refused. Default: 8 MiB worth. */
  maxTransferLength?: number;
  /**
   * Where persistent reservations with APTPL live across restarts; none = they do not. In cluster
   * mode a shared store (pr/types.ts SharedReservationStore) holding the whole state for every node.
   */
  reservationStore?: AnyReservationStore;
  /** Cluster mode: where LU-wide changes (resets, mode parameters) are published to the other nodes. */
  sharing?: LuSharing;
  /** SANITIZE OVERWRITE pace in bytes per second; 0 or absent = unlimited. */
  sanitizeRate?: number;
  /** The medium keeps what is written (false for the null backstore): SANITIZE OVERWRITE can be offered. Default true. */
  keepsData?: boolean;
  /** Crash-safe journal for WRITE ATOMIC(16) (sbc/write-atomic.ts); none = the command is not offered. */
  atomicJournal?: AtomicJournal;
  /** Remembers a running sanitize across a restart (sbc/sanitize-marker.ts); none = it is forgotten. */
  sanitizeMarker?: SanitizeMarker;
  /** Told of every sanitize state change (the LU's owner logs it). */
  onSanitizeChange?: (change: SanitizeChange) => void;
}

export const DEFAULT_VENDOR = 'SCATTER';
export const DEFAULT_PRODUCT = 'SCATTER-DISK';
export const DEFAULT_REVISION = '0001';
export const DEFAULT_MAX_TRANSFER_BYTES = 8 * 1024 * 1024;
export const MAX_LUN = 16383;

/** One direct-access logical unit: its identity, its mode state, its task set and unit attentions. */
export class LogicalUnit {
  readonly lun: number;
  readonly device: BlockDevice;
  readonly vendor: string;
  readonly product: string;
  readonly revision: string;
  readonly serial: string;
  readonly naaId: Buffer;
  readonly targetName: string;
  readonly maxTransferLength: number;
  /** Logical block provisioning management enabled (READ CAPACITY(16) LBPME, VPD B2h). */
  readonly thin: boolean;
  /** Deallocated blocks read as zeros (LBPRZ): thin, and the device's discard guarantees it. */
  readonly lbprz: boolean;
  /** Physical block size in bytes (READ CAPACITY(16) LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT). */
  readonly physicalBlockSize: number;
  /** First LBA at the start of a physical block (READ CAPACITY(16) LOWEST ALIGNED LBA). */
  readonly lowestAlignedLba: number;
  readonly taskSet = new TaskSet<Task>();
  /** Removable-medium state (see sbc/removable.ts); never ejected unless `removable`. */
  readonly medium = new RemovableMedium();
  readonly removable: boolean;
  /** Keeps COMPARE AND WRITE / ORWRITE atomic against other writes to the same blocks. */
  readonly rangeLock = new RangeLock();
  readonly unitAttentions = new UnitAttentions();
  /** RESERVE/RELEASE and persistent reservations (src/scsi/pr). */
  readonly reservations: ReservationState;
  /** Cluster mode only (lu-sharing.ts). */
  readonly sharing: LuSharing | undefined;
  /** SANITIZE in progress or failed: an LU state, not a task's (sbc/sanitize-state.ts). */
  readonly sanitize: SanitizeState;
  /** WRITE ATOMIC(16) journal; when set, READs also take the range lock (shared) so they never see half an atomic write. */
  readonly atomicJournal: AtomicJournal | undefined;
  /** Caching mode page WCE: when false every write is made durable before status. */
  writeCacheEnabled: boolean;
  /** Control mode page D_SENSE: descriptor-format sense instead of fixed. */
  descriptorSense = false;
  /** Control mode page SWP: software write protect, set by MODE SELECT, cleared by a reset. */
  softwareWriteProtect = false;

  /** WCE after a reset (MODE SENSE default values). */
  readonly defaultWriteCache: boolean;

  private readonly configReadOnly: boolean;
  private readonly setWriteCache: ((enabled: boolean) => void) | undefined;

  constructor(config: LogicalUnitConfig) {
    if (!Number.isInteger(config.lun) || config.lun < 0 || config.lun > MAX_LUN) {
      throw new RangeError(`LUN ${config.lun} outside 0..${MAX_LUN}`);
    }
    if (config.naaId.length !== 16 || config.naaId[0] >> 4 !== 6) {
      throw new RangeError('naaId must be a 16-byte NAA 6h designator');
    }
    const { blockSize, size } = config.device;
    if (!(blockSize > 0) || size % blockSize !== 0) {
      throw new RangeError(`device size ${size} is not a multiple of block size ${blockSize}`);
    }
    const maxTransfer = config.maxTransferLength ?? Math.max(1, Math.floor(DEFAULT_MAX_TRANSFER_BYTES / blockSize));
    if (!Number.isInteger(maxTransfer) || maxTransfer < 1 || maxTransfer > 0xffffffff) {
      throw new RangeError(`maxTransferLength ${maxTransfer} is not a block count`);
    }
    this.lun = config.lun;
    this.device = config.device;
    this.vendor = config.vendor ?? DEFAULT_VENDOR;
    this.product = config.product ?? DEFAULT_PRODUCT;
    this.revision = config.revision ?? DEFAULT_REVISION;
    this.serial = config.serial;
    this.naaId = Buffer.from(config.naaId);
    this.targetName = config.targetName;
    this.maxTransferLength = maxTransfer;
    this.thin = config.thin === true && config.device.discard !== undefined;
    this.lbprz = this.thin && (config.device.discardLimits?.zeroes ?? true);
    this.physicalBlockSize = config.device.physicalBlockSize ?? blockSize;
    const perPhysical = this.physicalBlockSize / blockSize;
    if (!Number.isInteger(perPhysical) || perPhysical > 2 ** 15 || (perPhysical & (perPhysical - 1)) !== 0) {
      throw new RangeError(`physical block size ${this.physicalBlockSize} is not a power-of-two multiple of ${blockSize}`);
    }
    this.lowestAlignedLba = config.device.lowestAlignedLba ?? 0;
    if (!Number.isInteger(this.lowestAlignedLba) || this.lowestAlignedLba < 0 || this.lowestAlignedLba >= perPhysical) {
      throw new RangeError(`lowest aligned LBA ${this.lowestAlignedLba} outside 0..${perPhysical - 1}`);
    }
    this.removable = config.removable === true;
    this.configReadOnly = config.readOnly;
    this.defaultWriteCache = config.writeCacheEnabled;
    this.writeCacheEnabled = config.writeCacheEnabled;
    this.setWriteCache = config.setWriteCache;
    this.sharing = config.sharing;
    this.reservations = new ReservationState(this.unitAttentions, config.reservationStore, {
      // PREEMPT AND ABORT made through another node: the preempted nexuses' tasks here end too.
      abortTasks: (ids) => void abortAll(this, (t) => ids.has(t.cmd.nexus.id)),
    });
    this.sanitize = new SanitizeState({
      rate: config.sanitizeRate,
      overwrite: config.keepsData !== false && !config.readOnly && !config.device.readOnly,
      marker: config.sanitizeMarker,
      onChange: config.onSanitizeChange,
      onMarkerError: (op, err) =>
        config.device.health?.report({
          cause: 'persist',
          op: op === 'set' ? 'SANITIZE (marker)' : 'SANITIZE (marker removal)',
          errno: errnoOf(err),
          message: err instanceof Error ? err.message : String(err),
        }),
    });
    this.atomicJournal = config.atomicJournal;
  }

  get readOnly(): boolean {
    return this.configReadOnly || this.device.readOnly || this.softwareWriteProtect;
  }

  /** Caching mode page WCE from MODE SELECT: the backstore follows (write-through when off). */
  setWriteCacheEnabled(enabled: boolean): void {
    if (this.writeCacheEnabled === enabled) return;
    this.writeCacheEnabled = enabled;
    this.setWriteCache?.(enabled);
  }

  get blockSize(): number {
    return this.device.blockSize;
  }

  get numBlocks(): number {
    return Math.floor(this.device.size / this.device.blockSize);
  }

  /** LOGICAL UNIT RESET (SAM-5): mode parameters go back to their defaults (nothing is saved). */
  resetModeParameters(): void {
    this.descriptorSense = false;
    this.softwareWriteProtect = false;
    this.setWriteCacheEnabled(this.defaultWriteCache);
  }
}
