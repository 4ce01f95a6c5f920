import type { CommandGate } from '../device-type.js';
import { Sense } from '../sense-reasons.js';

/**
 * Opcodes that touch the medium (SBC-4 "medium access commands"): refused while it is ejected.
 * INQUIRY, REPORT LUNS, REQUEST SENSE, MODE SENSE/SELECT, LOG SENSE, START STOP UNIT,
 * PREVENT ALLOW, REPORT SUPPORTED *, READ DEFECT DATA and reservations still work.
 */
const MEDIUM_ACCESS_OPCODES: ReadonlySet<number> = new Set([
  0x00, // TEST UNIT READY
  0x08, 0x28, 0xa8, 0x88, // READ
  0x0a, 0x2a, 0xaa, 0x8a, // WRITE
  0x2e, 0xae, 0x8e, // WRITE AND VERIFY
  0x2f, 0xaf, 0x8f, // VERIFY
  0x25, 0x9e, // READ CAPACITY(10), SERVICE ACTION IN(16): READ CAPACITY(16), GET LBA STATUS
  0x34, 0x90, // PRE-FETCH
  0x35, 0x91, // SYNCHRONIZE CACHE
  0x41, 0x93, 0x42, // WRITE SAME, UNMAP
  0x89, 0x8b, // COMPARE AND WRITE, ORWRITE
  0x9c, // WRITE ATOMIC(16)
  0x48, // SANITIZE
]);

/** While the medium is ejected, medium-access commands answer NOT READY, MEDIUM NOT PRESENT (checked on arrival). */
export const MEDIUM_GATE: CommandGate = {
  refusal: (lu, cdb) => (!lu.medium.present && MEDIUM_ACCESS_OPCODES.has(cdb[0]!) ? Sense.mediumNotPresent : undefined),
  recheckAtStart: false,
};
