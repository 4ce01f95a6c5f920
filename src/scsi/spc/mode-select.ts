import { checkControlByte } from '../cdb.js';
import type { LuCommandHandler, ParsedCommand } from '../handler.js';
import type { LogicalUnit } from '../logical-unit.js';
import { GOOD, type Outcome } from '../outcome.js';
import { Asc, Sense, type SenseReason } from '../sense-reasons.js';
import { dataOutBuffer } from '../data-out.js';
import { MODE_PAGES, type ModePage } from './mode-pages.js';
import type { LuSharing } from '../lu-sharing.js';
import { storeUnreachable } from '../pr/store-failure.js';

interface PageUpdate {
  readonly page: ModePage;
  readonly data: Buffer;
}

/**
 * Checks one mode parameter list (SPC-4 7.5) against what this LU can change. Every byte of a page
 * must equal the current value except where the changeable mask allows a difference; block
 * descriptors may only restate the capacity and block length. Field pointers count from the
 * start of the parameter list.
 */
export function checkModeParameters(lu: LogicalUnit, list: Buffer, ten: boolean): PageUpdate[] | SenseReason {
  const headerLength = ten ? 8 : 4;
  if (list.length < headerLength) return Sense.parameterListLengthError;
  const mediumType = ten ? list[2]! : list[1]!;
  if (mediumType !== 0) return Sense.invalidFieldInParameterList(ten ? 2 : 1);
  const longLba = ten && (list[4]! & 0x01) !== 0;
  const bdl = ten ? list.readUInt16BE(6) : list[3]!;
  const descriptorLength = longLba ? 16 : 8;
  if (bdl % descriptorLength !== 0) return Sense.invalidFieldInParameterList(ten ? 6 : 3);
  if (headerLength + bdl > list.length) return Sense.parameterListLengthError;
  for (let at = headerLength; at < headerLength + bdl; at += descriptorLength) {
    const problem = checkBlockDescriptor(lu, list.subarray(at, at + descriptorLength), at);
    if (problem) return problem;
  }
  const updates: PageUpdate[] = [];
  let at = headerLength + bdl;
  while (at < list.length) {
    if (at + 2 > list.length) return Sense.parameterListLengthError;
    // SPF = 1 would name a subpage; this LU has none.
    if (list[at]! & 0x40) return Sense.invalidFieldInParameterList(at, 6);
    const page = MODE_PAGES.find((p) => p.code === (list[at]! & 0x3f));
    if (!page) return Sense.invalidFieldInParameterList(at, 5);
    const current = page.build(lu, 'current');
    const mask = page.build(lu, 'changeable');
    if (list[at + 1] !== current.length - 2) return Sense.invalidFieldInParameterList(at + 1);
    if (at + current.length > list.length) return Sense.parameterListLengthError;
    const data = list.subarray(at, at + current.length);
    for (let i = 2; i < current.length; i++) {
      if (((data[i]! ^ current[i]!) & ~mask[i]!) !== 0) return Sense.invalidFieldInParameterList(at + i);
    }
    updates.push({ page, data });
    at += current.length;
  }
  return updates;
}

function checkBlockDescriptor(lu: LogicalUnit, d: Buffer, at: number): SenseReason | undefined {
  const long = d.length === 16;
  const blocks = long ? Number(d.readBigUInt64BE(0)) : d.readUInt32BE(0);
  const blockLength = long ? d.readUInt32BE(12) : d.readUIntBE(5, 3);
  // NUMBER OF LOGICAL BLOCKS 0 = "no change"; the capacity and block length are fixed by the backstore.
  const shortMax = Math.min(lu.numBlocks, 0xffffffff);
  if (blocks !== 0 && blocks !== (long ? lu.numBlocks : shortMax)) return Sense.invalidFieldInParameterList(at);
  if (blockLength !== lu.blockSize) return Sense.invalidFieldInParameterList(long ? at + 12 : at + 5);
  return undefined;
}

/** Applies checked pages; when a value changed, every other nexus gets MODE PARAMETERS CHANGED. True when one did. */
export function applyModeParameters(lu: LogicalUnit, updates: readonly PageUpdate[], nexusId: number): boolean {
  let changed = false;
  for (const { page, data } of updates) {
    const before = page.build(lu, 'current');
    page.apply(lu, data);
    if (!page.build(lu, 'current').equals(before)) changed = true;
  }
  const [asc, ascq] = Asc.MODE_PARAMETERS_CHANGED;
  if (changed) lu.unitAttentions.pushToOthers(nexusId, { asc, ascq });
  return changed;
}

/** The LU's changeable mode state, as the other nodes of a cluster take it. */
function modeState(lu: LogicalUnit): { descriptorSense: boolean; softwareWriteProtect: boolean; writeCacheEnabled: boolean } {
  return { descriptorSense: lu.descriptorSense, softwareWriteProtect: lu.softwareWriteProtect, writeCacheEnabled: lu.writeCacheEnabled };
}

/**
 * Cluster mode: the other nodes take the new parameters before the command completes. If they
 * cannot be told, the change is undone here too and the command fails (ABORTED COMMAND, LOGICAL
 * UNIT COMMUNICATION FAILURE): the initiator may retry; no node keeps parameters the others lack.
 */
async function shareModeParameters(lu: LogicalUnit, sharing: LuSharing, before: ReturnType<typeof modeState>): Promise<Outcome> {
  try {
    await sharing.publish({ kind: 'mode', ...modeState(lu) });
    return GOOD;
  } catch {
    lu.descriptorSense = before.descriptorSense;
    lu.softwareWriteProtect = before.softwareWriteProtect;
    lu.setWriteCacheEnabled(before.writeCacheEnabled);
    return storeUnreachable;
  }
}

/** MODE SELECT(6)/(10) (SPC-4). PF is accepted either way (only standard pages exist); SP is refused: nothing is saveable. */
function parseModeSelect(cdb: Buffer, lu: LogicalUnit, nexusId: number, ten: boolean): ParsedCommand | SenseReason {
  const control = checkControlByte(cdb, ten ? 10 : 6);
  if (control) return control;
  if (cdb[1]! & 0x01) return Sense.invalidFieldInCdb(1, 0);
  const length = ten ? cdb.readUInt16BE(7) : cdb[4]!;
  return {
    dataOutLength: length,
    run: ({ dataOut }): Outcome | Promise<Outcome> => {
      if (length === 0) return GOOD;
      const list = dataOutBuffer(dataOut, length);
      if (!list) return Sense.dataPhaseError;
      const updates = checkModeParameters(lu, list, ten);
      if (!Array.isArray(updates)) return updates;
      const before = modeState(lu);
      const changed = applyModeParameters(lu, updates, nexusId);
      return changed && lu.sharing ? shareModeParameters(lu, lu.sharing, before) : GOOD;
    },
  };
}

export const modeSelect6: LuCommandHandler = {
  name: 'MODE SELECT(6)',
  opcode: 0x15,
  cdbLength: 6,
  usage: [0x15, 0x11, 0x00, 0x00, 0xff, 0x00],
  cls: 'other',
  parse: ({ cdb, lu, nexus }) => parseModeSelect(cdb, lu, nexus.id, false),
};

export const modeSelect10: LuCommandHandler = {
  name: 'MODE SELECT(10)',
  opcode: 0x55,
  cdbLength: 10,
  usage: [0x55, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  cls: 'other',
  parse: ({ cdb, lu, nexus }) => parseModeSelect(cdb, lu, nexus.id, true),
};
