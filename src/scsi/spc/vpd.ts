import type { Nexus } from '../command.js';
import type { TargetInfo } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { asciiField } from '../cdb.js';
import { thirdPartyCopyPage, VPD_THIRD_PARTY_COPY } from './xcopy-vpd.js';
import { maxUnmapBlocks, maxWriteSameBlocks, ProvisioningLimits, unmapGranularityAlignment, unmapGranularityBlocks } from '../sbc/provisioning.js';
import { optimalTransferGranularity } from '../sbc/geometry.js';
import { atomicLimits } from '../sbc/write-atomic.js';

/** Byte 0 of INQUIRY data: peripheral qualifier 000b + direct access, or 011b/1Fh for "no LU here". */
export function peripheralByte(lu: LogicalUnit | undefined): number {
  return lu ? 0x00 : 0x7f;
}

export const VPD_SUPPORTED_PAGES = 0x00;
export const VPD_UNIT_SERIAL_NUMBER = 0x80;
export const VPD_DEVICE_IDENTIFICATION = 0x83;
export const VPD_BLOCK_LIMITS = 0xb0;
export const VPD_BLOCK_DEVICE_CHARACTERISTICS = 0xb1;
export const VPD_LOGICAL_BLOCK_PROVISIONING = 0xb2;

const CODE_SET_BINARY = 1;
const CODE_SET_ASCII = 2;
const CODE_SET_UTF8 = 3;
const ASSOC_LOGICAL_UNIT = 0;
const ASSOC_TARGET_PORT = 1;
const ASSOC_TARGET_DEVICE = 2;
const TYPE_T10_VENDOR_ID = 1;
const TYPE_NAA = 3;
const TYPE_RELATIVE_TARGET_PORT = 4;
const TYPE_TARGET_PORT_GROUP = 5;
const TYPE_SCSI_NAME_STRING = 8;

/** Target port group reported in VPD 83h (TPGS = 0: no ALUA yet, a single group). */
export const TARGET_PORT_GROUP = 0;

interface VpdContext {
  readonly lu: LogicalUnit;
  readonly nexus: Nexus;
  readonly target: TargetInfo;
}

/** Page header: peripheral byte, page code, 2-byte page length. */
function page(code: number, body: Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b[1] = code;
  b.writeUInt16BE(body.length, 2);
  body.copy(b, 4);
  return b;
}

/** SPC-4 designation descriptor. PIV = 1 only where the protocol identifier means something. */
function designator(codeSet: number, association: number, type: number, value: Buffer, protocolId?: number): Buffer {
  const b = Buffer.alloc(4 + value.length);
  b[0] = ((protocolId ?? 0) << 4) | codeSet;
  b[1] = (protocolId !== undefined ? 0x80 : 0) | (association << 4) | type;
  b[3] = value.length;
  value.copy(b, 4);
  return b;
}

/** SCSI name string: UTF-8, NUL terminated, padded with NULs to a multiple of 4 bytes. */
function scsiNameString(name: string): Buffer {
  const utf8 = Buffer.from(name, 'utf8');
  const length = (utf8.length + 4) & ~3;
  const b = Buffer.alloc(Math.min(length, 252));
  utf8.copy(b, 0, 0, b.length - 1);
  return b;
}

function twoByteId(id: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(id & 0xffff, 2);
  return b;
}

function supportedPages({ lu }: VpdContext): Buffer {
  return Buffer.from(PAGES.filter((p) => !p.when || p.when(lu)).map((p) => p.code));
}

function unitSerialNumber({ lu }: VpdContext): Buffer {
  return Buffer.from(lu.serial.replace(/[^\x20-\x7e]/g, '?'), 'ascii');
}

/**
 * Device identification: what Linux (NAA first, association LU) and multipath tools key on.
 * LU: NAA 6h, T10 vendor id + serial. Target port: relative port, port group, port name.
 * Target device: the target name.
 */
function deviceIdentification({ lu, nexus, target }: VpdContext): Buffer {
  const proto = target.protocolId;
  return Buffer.concat([
    designator(CODE_SET_BINARY, ASSOC_LOGICAL_UNIT, TYPE_NAA, lu.naaId),
    designator(
      CODE_SET_ASCII,
      ASSOC_LOGICAL_UNIT,
      TYPE_T10_VENDOR_ID,
      Buffer.concat([asciiField(lu.vendor, 8), Buffer.from(lu.serial.replace(/[^\x20-\x7e]/g, '?'), 'ascii')]),
    ),
    designator(CODE_SET_BINARY, ASSOC_TARGET_PORT, TYPE_RELATIVE_TARGET_PORT, twoByteId(nexus.relativeTargetPortId), proto),
    designator(CODE_SET_BINARY, ASSOC_TARGET_PORT, TYPE_TARGET_PORT_GROUP, twoByteId(TARGET_PORT_GROUP), proto),
    designator(CODE_SET_UTF8, ASSOC_TARGET_PORT, TYPE_SCSI_NAME_STRING, scsiNameString(nexus.targetPort), proto),
    designator(CODE_SET_UTF8, ASSOC_TARGET_DEVICE, TYPE_SCSI_NAME_STRING, scsiNameString(lu.targetName), proto),
  ]);
}

/** MAXIMUM COMPARE AND WRITE LENGTH (blocks, one byte). */
export const MAX_COMPARE_AND_WRITE_BLOCKS = 255;

/**
 * Block limits (SBC-3, page length 3Ch). WSNZ = 0 (WRITE SAME with 0 blocks runs to the end),
 * MAXIMUM WRITE SAME LENGTH always; the UNMAP limits only on a thin LU.
 */
function blockLimits({ lu }: VpdContext): Buffer {
  const b = Buffer.alloc(0x3c);
  // Offsets below are page offsets minus the 4-byte header.
  b[1] = Math.min(MAX_COMPARE_AND_WRITE_BLOCKS, lu.maxTransferLength); // MAXIMUM COMPARE AND WRITE LENGTH (5)
  b.writeUInt16BE(optimalTransferGranularity(lu), 2); // OPTIMAL TRANSFER LENGTH GRANULARITY (page bytes 6-7)
  b.writeUInt32BE(lu.maxTransferLength, 4); // MAXIMUM TRANSFER LENGTH (8-11)
  b.writeUInt32BE(lu.maxTransferLength, 8); // OPTIMAL TRANSFER LENGTH (12-15)
  if (lu.thin) {
    b.writeUInt32BE(maxUnmapBlocks(lu), 16); // MAXIMUM UNMAP LBA COUNT (20-23)
    b.writeUInt32BE(ProvisioningLimits.maxUnmapDescriptors, 20); // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (24-27)
    b.writeUInt32BE(unmapGranularityBlocks(lu), 24); // OPTIMAL UNMAP GRANULARITY (28-31)
    const alignment = unmapGranularityAlignment(lu);
    if (alignment !== undefined) b.writeUInt32BE((0x80000000 | alignment) >>> 0, 28); // UGAVALID + UNMAP GRANULARITY ALIGNMENT (32-35)
  }
  b.writeBigUInt64BE(BigInt(maxWriteSameBlocks(lu)), 32); // MAXIMUM WRITE SAME LENGTH (36-43)
  const atomic = atomicLimits(lu); // 0 where WRITE ATOMIC(16) is not offered
  if (atomic) {
    b.writeUInt32BE(atomic.maxBlocks, 40); // MAXIMUM ATOMIC TRANSFER LENGTH (44-47)
    b.writeUInt32BE(atomic.alignment, 44); // ATOMIC ALIGNMENT (48-51)
    b.writeUInt32BE(atomic.granularity, 48); // ATOMIC TRANSFER LENGTH GRANULARITY (52-55)
  }
  return b;
}

/**
 * Logical block provisioning (SBC-4), thin LUs only: LBPU (UNMAP), LBPWS / LBPWS10 (WRITE SAME
 * with UNMAP), LBPRZ = 001b where deallocated blocks read as zeros (000b where the device's
 * discard does not promise it), no anchoring, PROVISIONING TYPE thin.
 */
function logicalBlockProvisioning({ lu }: VpdContext): Buffer {
  const b = Buffer.alloc(4);
  b[1] = 0x80 | 0x40 | 0x20 | (lu.lbprz ? 0x04 : 0);
  b[2] = 0x02;
  return b;
}

/**
 * Block device characteristics (SBC-3): MEDIUM ROTATION RATE 1 = non-rotating medium. WABEREQ = 01b
 * on thin LUs, which offer SANITIZE BLOCK ERASE: reads after it succeed (zeros, LBPRZ).
 */
function blockDeviceCharacteristics({ lu }: VpdContext): Buffer {
  const b = Buffer.alloc(0x3c);
  b.writeUInt16BE(0x0001, 0);
  if (lu.thin) b[3] = 0x40; // page byte 7: WABEREQ (7-6)
  return b;
}

interface VpdPage {
  readonly code: number;
  build(ctx: VpdContext): Buffer;
  /** Only for LUs where this holds (listed and answered). */
  when?(lu: LogicalUnit): boolean;
}

/** Ascending page codes, as SPC requires of the supported pages list. */
const PAGES: readonly VpdPage[] = [
  { code: VPD_SUPPORTED_PAGES, build: supportedPages },
  { code: VPD_UNIT_SERIAL_NUMBER, build: unitSerialNumber },
  { code: VPD_DEVICE_IDENTIFICATION, build: deviceIdentification },
  { code: VPD_THIRD_PARTY_COPY, build: thirdPartyCopyPage },
  { code: VPD_BLOCK_LIMITS, build: blockLimits },
  { code: VPD_BLOCK_DEVICE_CHARACTERISTICS, build: blockDeviceCharacteristics },
  { code: VPD_LOGICAL_BLOCK_PROVISIONING, build: logicalBlockProvisioning, when: (lu) => lu.thin },
];

/** The whole VPD page, or undefined when the page is not supported (for this LUN). */
export function vpdPage(code: number, lu: LogicalUnit | undefined, nexus: Nexus, target: TargetInfo): Buffer | undefined {
  if (!lu) {
    // No LU: only the (empty but for itself) supported pages list.
    return code === VPD_SUPPORTED_PAGES ? withPeripheral(page(code, Buffer.from([VPD_SUPPORTED_PAGES])), lu) : undefined;
  }
  const p = PAGES.find((x) => x.code === code && (!x.when || x.when(lu)));
  return p ? withPeripheral(page(code, p.build({ lu, nexus, target })), lu) : undefined;
}

function withPeripheral(b: Buffer, lu: LogicalUnit | undefined): Buffer {
  b[0] = peripheralByte(lu);
  return b;
}
