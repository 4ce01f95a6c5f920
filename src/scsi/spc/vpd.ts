import type { Nexus } from '../command.js';
import type { VpdContext, VpdPage } from '../device-type.js';
import type { TargetInfo } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { asciiField, codedPage } from '../cdb.js';
import { thirdPartyCopyPage, VPD_THIRD_PARTY_COPY } from './xcopy-vpd.js';

/** Byte 0 of INQUIRY data: peripheral qualifier 000b + the device type, or 011b/1Fh for "no LU here". */
export function peripheralByte(lu: LogicalUnit | undefined, target: TargetInfo): number {
  return lu ? target.deviceType.peripheralType : 0x7f;
}

export const VPD_SUPPORTED_PAGES = 0x00;
export const VPD_UNIT_SERIAL_NUMBER = 0x80;
export const VPD_DEVICE_IDENTIFICATION = 0x83;

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

/** Target port group reported in VPD 83h without ALUA (TPGS = 0: a single group). */
export const TARGET_PORT_GROUP = 0;

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

/** The unit serial number as ASCII (SPC-4: only 20h-7Eh). */
function serialAscii(lu: LogicalUnit): Buffer {
  return Buffer.from(lu.serial.replace(/[^\x20-\x7e]/g, '?'), 'ascii');
}

/** The LU's designators in VPD 83h (NAA first: what Linux keys on), also what EXTENDED COPY matches CSCD descriptors against. */
export function logicalUnitDesignators(lu: LogicalUnit): { type: number; codeSet: number; value: Buffer }[] {
  return [
    { type: TYPE_NAA, codeSet: CODE_SET_BINARY, value: lu.naaId },
    { type: TYPE_T10_VENDOR_ID, codeSet: CODE_SET_ASCII, value: Buffer.concat([asciiField(lu.vendor, 8), serialAscii(lu)]) },
  ];
}

function supportedPages({ lu, target }: VpdContext): Buffer {
  return Buffer.from(target.deviceType.vpdPages.filter((p) => !p.when || p.when(lu)).map((p) => p.code));
}

function unitSerialNumber({ lu }: VpdContext): Buffer {
  return serialAscii(lu);
}

/**
 * Device identification: what Linux (NAA first, association LU) and multipath tools key on.
 * LU: NAA 6h, T10 vendor id + serial. Target port: relative port, port group (the ALUA provider's
 * when set), port name.
 * Target device: the target name.
 */
function deviceIdentification({ lu, nexus, target }: VpdContext): Buffer {
  const proto = target.protocolId;
  // With ALUA, which port and group this is comes from the provider (each node reports its own).
  const local = target.alua?.localGroup(lu);
  const relativePort = local?.relativeTargetPortId ?? nexus.relativeTargetPortId;
  const group = local?.groupId ?? TARGET_PORT_GROUP;
  return Buffer.concat([
    ...logicalUnitDesignators(lu).map((d) => designator(d.codeSet, ASSOC_LOGICAL_UNIT, d.type, d.value)),
    designator(CODE_SET_BINARY, ASSOC_TARGET_PORT, TYPE_RELATIVE_TARGET_PORT, twoByteId(relativePort), proto),
    designator(CODE_SET_BINARY, ASSOC_TARGET_PORT, TYPE_TARGET_PORT_GROUP, twoByteId(group), proto),
    designator(CODE_SET_UTF8, ASSOC_TARGET_PORT, TYPE_SCSI_NAME_STRING, scsiNameString(nexus.targetPort), proto),
    designator(CODE_SET_UTF8, ASSOC_TARGET_DEVICE, TYPE_SCSI_NAME_STRING, scsiNameString(lu.targetName), proto),
  ]);
}

/** The VPD pages SPC defines for every LU; device types add their own (sbc/vpd-pages.ts). */
export const SPC_VPD_PAGES: readonly VpdPage[] = [
  { code: VPD_SUPPORTED_PAGES, build: supportedPages },
  { code: VPD_UNIT_SERIAL_NUMBER, build: unitSerialNumber },
  { code: VPD_DEVICE_IDENTIFICATION, build: deviceIdentification },
  { code: VPD_THIRD_PARTY_COPY, build: thirdPartyCopyPage },
];

/** The whole VPD page, or undefined when the page is not supported (for this LUN). */
export function vpdPage(code: number, lu: LogicalUnit | undefined, nexus: Nexus, target: TargetInfo): Buffer | undefined {
  if (!lu) {
    // No LU: only the (empty but for itself) supported pages list.
    return code === VPD_SUPPORTED_PAGES ? withPeripheral(codedPage(code, Buffer.from([VPD_SUPPORTED_PAGES])), lu, target) : undefined;
  }
  const p = target.deviceType.vpdPages.find((x) => x.code === code && (!x.when || x.when(lu)));
  return p ? withPeripheral(codedPage(code, p.build({ lu, nexus, target })), lu, target) : undefined;
}

function withPeripheral(b: Buffer, lu: LogicalUnit | undefined, target: TargetInfo): Buffer {
  b[0] = peripheralByte(lu, target);
  return b;
}
